//! Exact money: decimal strings parsed with `rust_decimal` (never floats), ISO 4217 currency codes and
//! value dates. Presentation rounding (banker's rounding to cents) lives here too, so every output agrees.
use rust_decimal::{Decimal, RoundingStrategy};

use crate::date;
use crate::error::{FieldPath, Refusal, Result};

/// Active ISO 4217 alphabetic codes (list one, as published by the maintenance agency), plus the
/// funds and special codes a coalition may meet (XDR, XAU are excluded: not currencies of account).
pub const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF",
    "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR",
    "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
    "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT",
    "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE",
    "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS",
    "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG",
    "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// ISO 4217 minor units of the currencies above that do not use two (list one's "Minor unit" column).
const MINOR_UNITS: &[(&str, u32)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLF", 4),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("UYW", 4),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// Largest amount one statement may carry, in units of its currency (10^15: a thousand times the largest
/// pledge ever recorded by OCHA FTS, and small enough that no sum a ledger can hold overflows).
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA4C6_8000, 0x0003_8D7E, 0, false, 0);

/// Largest magnitude of any other decimal (rates, quantities, indicator values, shares): 10^18.
pub const MAX_DECIMAL: Decimal = Decimal::from_parts(0xA764_0000, 0x0DE0_B6B3, 0, false, 0);

/// Most decimal places of a decimal that is not an amount.
pub const MAX_SCALE: u32 = 12;

/// Decimal places an amount in `currency` may have: its ISO 4217 minor unit plus two.
pub fn max_amount_scale(currency: &str) -> u32 {
    MINOR_UNITS.iter().find(|(c, _)| *c == currency).map_or(2, |(_, u)| *u).saturating_add(2)
}

/// An active ISO 4217 currency code (one of [`ISO_4217`]), checked once where it enters the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(&'static str);

impl Currency {
    /// The code named `s`, or INVALID_ARGUMENT naming `field` when it is not an active ISO 4217 code.
    pub fn parse(field: impl Into<FieldPath>, s: &str) -> Result<Self> {
        let code = ISO_4217.binary_search(&s).ok().and_then(|i| ISO_4217.get(i));
        code.map(|c| Self(c)).ok_or_else(|| not_a_currency(field, s))
    }
    /// The three-letter code.
    pub fn as_str(self) -> &'static str {
        self.0
    }
    /// Decimal places an amount in it may have: its ISO 4217 minor unit plus two.
    pub fn max_amount_scale(self) -> u32 {
        max_amount_scale(self.0)
    }
}

impl std::str::FromStr for Currency {
    type Err = Refusal;
    /// [`Currency::parse`], naming no field.
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(FieldPath::none(), s)
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A currency equals its code (`currency == "EUR"`).
impl PartialEq<str> for Currency {
    fn eq(&self, code: &str) -> bool {
        self.0 == code
    }
}

impl PartialEq<&str> for Currency {
    fn eq(&self, code: &&str) -> bool {
        self.0 == *code
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(FieldPath::none(), &s).map_err(serde::de::Error::custom)
    }
}

/// An ISO 4217 code that is in the list above.
pub fn check_currency(field: &str, s: &str) -> Result<()> {
    Currency::parse(field, s).map(|_| ())
}

fn not_a_currency(field: impl Into<FieldPath>, s: &str) -> Refusal {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
        Refusal::invalid(field, format!("{s:?} is not an active ISO 4217 currency code"))
    } else {
        Refusal::invalid(field, format!("{s:?} is not an ISO 4217 currency code (three upper-case letters)"))
    }
}

/// Parse an exact decimal string: optional '-', digits, optional '.' and digits; at most 28 significant
/// digits. Exponents, spaces, '+' and thousands separators are refused.
pub fn parse_decimal(field: &str, s: &str) -> Result<Decimal> {
    let t = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let shape = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (!t.contains('.') || !frac.is_empty());
    if !shape {
        return Err(Refusal::invalid(field, format!("{s:?} is not a decimal number (e.g. \"1250000.00\")")));
    }
    let d = Decimal::from_str_exact(s).map_err(|_| {
        Refusal::invalid(field, format!("{s:?} has more than 28 significant digits or is out of range"))
    })?;
    if d.abs() > MAX_DECIMAL {
        return Err(Refusal::invalid(field, format!("{s} is out of range (the largest magnitude is 10^18)")));
    }
    if d.scale() > MAX_SCALE {
        return Err(Refusal::invalid(field, format!("{s} has more than {MAX_SCALE} decimal places")));
    }
    Ok(d)
}

/// `a + b`, or INVALID_ARGUMENT naming `field` when the exact sum would leave the decimal range.
pub fn add(field: &str, a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_add(b).ok_or_else(|| overflow(field))
}

/// `a - b`, checked like [`add`].
pub fn sub(field: &str, a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_sub(b).ok_or_else(|| overflow(field))
}

/// `a × b`, checked like [`add`].
pub fn mul(field: &str, a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_mul(b).ok_or_else(|| overflow(field))
}

/// `a ÷ b`, checked like [`add`] (division by zero included).
pub fn div(field: &str, a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_div(b).ok_or_else(|| overflow(field))
}

fn overflow(field: &str) -> Refusal {
    Refusal::invalid(
        field,
        "the exact result leaves the decimal range (rule: every sum, product and conversion is exact)",
    )
}

/// A decimal that must be > 0.
pub fn parse_positive(field: &str, s: &str) -> Result<Decimal> {
    let d = parse_decimal(field, s)?;
    if d <= Decimal::ZERO {
        return Err(Refusal::invalid(field, format!("must be greater than zero, got {s}")));
    }
    Ok(d)
}

/// A validated amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    /// The exact value, > 0.
    pub value: Decimal,
    /// The ISO 4217 code.
    pub currency: Currency,
    /// Day number of the value date.
    pub value_date: i64,
}

/// An exact value in one currency. A ledger's sums are only ever taken within one currency: adding or
/// subtracting money in another is refused (a recorded `fx_rate.recorded` converts it first), and so is a
/// result that leaves the decimal range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    /// The exact value.
    pub value: Decimal,
    /// Its currency.
    pub currency: Currency,
}

impl Money {
    /// `value` in `currency`.
    pub fn new(value: Decimal, currency: Currency) -> Self {
        Self { value, currency }
    }
    /// `self + other`; INVALID_ARGUMENT naming `field` (`.currency` when the currencies differ, `.value`
    /// when the sum leaves the decimal range).
    pub fn checked_add(self, other: Money, field: &str) -> Result<Money> {
        self.same_currency(other, field)?;
        Ok(Self::new(add(&format!("{field}.value"), self.value, other.value)?, self.currency))
    }
    /// `self - other`, checked like [`Money::checked_add`].
    pub fn checked_sub(self, other: Money, field: &str) -> Result<Money> {
        self.same_currency(other, field)?;
        Ok(Self::new(sub(&format!("{field}.value"), self.value, other.value)?, self.currency))
    }
    /// `self × factor` (a share, a quantity), in the same currency; checked like [`add`].
    pub fn times(self, factor: Decimal, field: &str) -> Result<Money> {
        Ok(Self::new(mul(&format!("{field}.value"), self.value, factor)?, self.currency))
    }
    fn same_currency(self, other: Money, field: &str) -> Result<()> {
        if self.currency == other.currency {
            return Ok(());
        }
        Err(Refusal::invalid(
            format!("{field}.currency"),
            format!(
                "is {} but must be {} (money in two currencies is added only after a recorded fx_rate converts it)",
                other.currency, self.currency
            ),
        ))
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.value, self.currency)
    }
}

impl Amount {
    /// Its value and currency.
    pub fn money(&self) -> Money {
        Money::new(self.value, self.currency)
    }
    /// The value date as `YYYY-MM-DD`.
    pub fn value_date_str(&self) -> String {
        date::format_date(self.value_date)
    }
}

/// Check an amount given as text (the wire's `Money` fields, each named `{field}.value`,
/// `{field}.currency`, `{field}.value_date` in refusals): positive exact value at most [`MAX_AMOUNT`] with
/// at most the currency's minor unit plus two places, ISO 4217 currency, required value date.
pub fn parse_amount(field: &str, text: &str, currency: &str, value_date: &str) -> Result<Amount> {
    let value = parse_positive(&format!("{field}.value"), text)?;
    let code = Currency::parse(format!("{field}.currency"), currency)?;
    if value > MAX_AMOUNT {
        return Err(Refusal::invalid(
            format!("{field}.value"),
            format!("{text} is more than the largest amount a statement may carry (10^15)"),
        ));
    }
    let scale = code.max_amount_scale();
    if value.scale() > scale {
        return Err(Refusal::invalid(
            format!("{field}.value"),
            format!("{text} has more than {scale} decimal places ({currency}'s minor unit plus two)"),
        ));
    }
    let day = date::parse_date(value_date).ok_or_else(|| {
        Refusal::invalid(
            format!("{field}.value_date"),
            format!("{value_date:?} is not a date of the form YYYY-MM-DD (a value date is required)"),
        )
    })?;
    Ok(Amount { value, currency: code, value_date: day })
}

/// Banker's rounding (half to even) to cents, for presentation only.
pub fn cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
}

/// A ratio as a percentage with one decimal, banker's rounding; None when the denominator is zero.
pub fn percent(num: Decimal, den: Decimal) -> Option<Decimal> {
    if den.is_zero() {
        return None;
    }
    let p = num.checked_mul(Decimal::ONE_HUNDRED)?.checked_div(den)?;
    Some(p.round_dp_with_strategy(1, RoundingStrategy::MidpointNearestEven))
}

/// A decimal as text with at least two decimals (amounts), no exponent.
pub fn format_amount(d: Decimal) -> String {
    let c = cents(d);
    format!("{c:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_list_is_sorted_for_binary_search() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
        assert!(check_currency("c", "EUR").is_ok());
        assert!(check_currency("c", "EUX").unwrap_err().rule.contains("active ISO 4217"));
        assert!(check_currency("c", "eur").is_err());
    }

    #[test]
    fn decimals_are_exact_and_strict() {
        assert_eq!(
            parse_decimal("v", "0.1").unwrap() + parse_decimal("v", "0.2").unwrap(),
            parse_decimal("v", "0.3").unwrap()
        );
        for bad in ["", "1e6", "+1", "1,000", " 1", "1.", ".5", "NaN", "1.0.0"] {
            assert!(parse_decimal("v", bad).is_err(), "{bad:?}");
        }
        assert!(parse_decimal("v", "12345678901234567890123456789012").is_err());
        assert!(parse_positive("v", "0").is_err());
        // Leading and trailing zeros write the same exact value (docs/FORMAT.md §1); the value, not the
        // text, is what the rules compare and add.
        assert_eq!(parse_decimal("v", "0100").unwrap(), Decimal::ONE_HUNDRED);
        assert_eq!(parse_decimal("v", "0100.500").unwrap(), parse_decimal("v", "100.5").unwrap());
        assert_eq!(parse_decimal("v", "0100").unwrap().normalize().to_string(), "100");
    }

    #[test]
    fn amounts_are_bounded_by_value_and_scale() {
        let m = |v: &'static str, c: &'static str| (v, c);
        let parse_money = |f: &str, m: Option<&(&str, &str)>| {
            let (v, c) = m.unwrap();
            parse_amount(f, v, c, "2026-01-01")
        };
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000u64));
        assert_eq!(MAX_DECIMAL, Decimal::from(1_000_000_000_000_000_000u64));
        assert!(parse_money("a", Some(&m("1000000000000000", "USD"))).is_ok());
        let e = parse_money("a", Some(&m("1000000000000000.01", "USD"))).unwrap_err();
        assert_eq!(e.field, "a.value");
        assert!(e.rule.contains("10^15"), "{e}");
        assert!(parse_money("a", Some(&m("1.2345", "USD"))).is_ok());
        assert!(parse_money("a", Some(&m("1.23456", "USD"))).is_err());
        assert!(parse_money("a", Some(&m("1.23", "JPY"))).is_ok());
        assert!(parse_money("a", Some(&m("1.234", "JPY"))).is_err());
        assert!(parse_money("a", Some(&m("1.23456", "KWD"))).is_ok());
        assert!(parse_decimal("v", "79228162514264337593543950335").is_err());
        assert!(parse_decimal("v", "0.0000000000001").is_err());
        assert!(add("f", Decimal::MAX, Decimal::ONE).unwrap_err().rule.contains("decimal range"));
        assert!(mul("f", Decimal::MAX, Decimal::TWO).is_err());
        assert!(div("f", Decimal::ONE, Decimal::ZERO).is_err());
        assert_eq!(percent(Decimal::MAX, Decimal::ONE), None);
    }

    #[test]
    fn money_adds_only_within_one_currency_and_exactly() {
        let c = |s: &str| s.parse::<Currency>().unwrap();
        let m = |v: &str, cur: &str| Money::new(parse_decimal("v", v).unwrap(), c(cur));
        assert_eq!(m("0.1", "EUR").checked_add(m("0.2", "EUR"), "a").unwrap(), m("0.3", "EUR"));
        assert_eq!(m("1", "EUR").checked_sub(m("2.5", "EUR"), "a").unwrap(), m("-1.5", "EUR"));
        assert_eq!(m("10", "JPY").times(Decimal::new(25, 2), "a").unwrap(), m("2.5", "JPY"));
        let e = m("1", "EUR").checked_add(m("1", "USD"), "restates[0].amount").unwrap_err();
        assert_eq!(
            (e.field.to_string().as_str(), e.rule.starts_with("is USD but must be EUR")),
            ("restates[0].amount.currency", true)
        );
        let max = Money::new(Decimal::MAX, c("USD"));
        assert_eq!(max.checked_add(m("1", "USD"), "a").unwrap_err().field, "a.value");
        assert!(max.times(Decimal::TWO, "a").is_err());
        // Currencies are the active ISO 4217 codes, nothing else; they print and serialise as the code.
        assert!("EUX".parse::<Currency>().is_err() && "eur".parse::<Currency>().is_err());
        assert_eq!(serde_json::to_string(&c("CHF")).unwrap(), "\"CHF\"");
        assert!(serde_json::from_str::<Currency>("\"XXX\"").is_err());
        assert_eq!(m("12.50", "KWD").to_string(), "12.50 KWD");
    }

    #[test]
    fn presentation_rounding_is_half_even() {
        assert_eq!(format_amount(Decimal::new(12345, 3)), "12.34");
        assert_eq!(format_amount(Decimal::new(12355, 3)), "12.36");
        assert_eq!(percent(Decimal::new(30075, 0), Decimal::new(32400, 0)).unwrap().to_string(), "92.8");
        assert_eq!(percent(Decimal::ONE, Decimal::ZERO), None);
    }
}

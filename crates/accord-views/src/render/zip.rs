//! A ZIP archive of the CSV views (one download for all of them), written plainly: every file stored
//! uncompressed (method 0) with its CRC-32, local headers, then the central directory — the subset of
//! PKWARE's APPNOTE every unzip tool reads. Names are the CSV files' own (ASCII, no directories).

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as ZIP requires.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A stored ZIP archive of `files` (name, content); None when a name or a file is too large for the
/// classic format (names over 65,535 bytes, files or the archive over 4 GiB, over 65,535 files).
pub fn zip_store(files: &[(String, Vec<u8>)]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    // 1980-01-01 00:00: the archive's content, not the clock, decides its bytes.
    let (time, date) = (0u16, (1u16 << 5) | 1);
    for (name, data) in files {
        let offset = u32::try_from(out.len()).ok()?;
        let (len, name_len) = (u32::try_from(data.len()).ok()?, u16::try_from(name.len()).ok()?);
        let crc = crc32(data);
        // Local file header.
        u32le(&mut out, 0x0403_4b50);
        for v in [20u16, 0x0800, 0, time, date] {
            u16le(&mut out, v); // version needed, flags (UTF-8 names), stored, time, date
        }
        for v in [crc, len, len] {
            u32le(&mut out, v);
        }
        u16le(&mut out, name_len);
        u16le(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Its central directory record.
        u32le(&mut central, 0x0201_4b50);
        for v in [20u16, 20, 0x0800, 0, time, date] {
            u16le(&mut central, v);
        }
        for v in [crc, len, len] {
            u32le(&mut central, v);
        }
        for v in [name_len, 0, 0, 0, 0] {
            u16le(&mut central, v); // name, extra, comment lengths; disk; internal attributes
        }
        u32le(&mut central, 0); // external attributes
        u32le(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let count = u16::try_from(files.len()).ok()?;
    let (dir_offset, dir_len) = (u32::try_from(out.len()).ok()?, u32::try_from(central.len()).ok()?);
    out.extend_from_slice(&central);
    u32le(&mut out, 0x0605_4b50);
    for v in [0u16, 0, count, count] {
        u16le(&mut out, v);
    }
    u32le(&mut out, dir_len);
    u32le(&mut out, dir_offset);
    u16le(&mut out, 0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn an_archive_lists_its_files() {
        let z = zip_store(&[("a.csv".into(), b"x,y\n1,2\n".to_vec()), ("b.csv".into(), Vec::new())]).unwrap();
        assert_eq!(&z[..4], b"PK\x03\x04");
        assert_eq!(&z[z.len() - 22..z.len() - 18], b"PK\x05\x06");
        assert_eq!(u16::from_le_bytes([z[z.len() - 12], z[z.len() - 11]]), 2);
    }
}

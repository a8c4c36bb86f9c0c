//! The `accord` command line: server, signer, client and offline verifier.
//!
//! Exit codes: 0 success; 1 the thing checked does not hold or the server rejected the request;
//! 2 usage error; 3 the server could not be reached or is unavailable; 4 internal error.
mod audit;
mod author;
mod book;
mod entries;
mod keys;
mod monitor;
mod netaudit;
mod ops;
mod report;
mod serve;
mod shell;
mod tiles;
mod witness;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::client::{self, Client};
use crate::crypto;
use crate::error::{Error, Kind};
use crate::json as sj;
use crate::ledger::{Ledger, Options};
use crate::merkle::ProofBundle;
use crate::pb;
use entries::{checkpoint, consistency, get, info, verify, CheckpointArgs, ConsistencyArgs, GetArgs, VerifyArgs};
use serve::{health, serve, HealthArgs, ServeArgs};

/// Accord: a verifiable, append-only ledger of signed multilateral commitments.
///
/// Parties sign statements (DSSE envelopes), the server appends them to an RFC 6962 log and returns a
/// receipt with a signed C2SP checkpoint, and anyone can verify entries offline with the log's key.
#[derive(Debug, Parser)]
#[command(name = "accord", version, propagate_version = true, max_term_width = 110)]
pub struct Cli {
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,
    /// Log filter (tracing EnvFilter syntax), e.g. "info" or "accord=debug".
    #[arg(long, global = true, env = "ACCORD_LOG", default_value = "info")]
    log: String,
    /// Log format: human or json.
    #[arg(long, global = true, env = "ACCORD_LOG_FORMAT", default_value = "human", value_parser = ["human", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process; serve's settings are the largest")]
enum Command {
    /// Run the ledger server (creates the ledger, its key and the size-0 checkpoint on first start).
    Serve(ServeArgs),
    /// Create a ledger in a data directory without serving it; prints the log's verifier key.
    Init(InitArgs),
    /// Party key management.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Propose, sign and combine the coalition charter (entry 0).
    #[command(subcommand)]
    Charter(CharterCommand),
    /// Sign a statement (JSON, protobuf JSON mapping) into a DSSE envelope, or add a signature to an envelope.
    Sign(SignArgs),
    /// Submit envelopes; prints the verified receipt and writes a C2SP tlog-proof bundle per envelope.
    Submit(SubmitArgs),
    /// Fetch one entry (by index, identity or statement id) and verify its inclusion.
    Get(GetArgs),
    /// Fetch and verify the latest (or a given size's) signed checkpoint.
    Checkpoint(CheckpointArgs),
    /// Offline: verify an entry's tlog-proof bundle against the trusted log key (exit 0 only if all holds).
    Verify(VerifyArgs),
    /// Verify that the newer of two checkpoints extends the older (fetches the consistency proof).
    Consistency(ConsistencyArgs),
    /// Show the server's origin, verifier key and size.
    Info(ServerArgs),
    /// Ask the server's grpc.health.v1 service; exit 0 only when SERVING (container health checks).
    Health(HealthArgs),
    /// Statement templates (`accord statement new pledge.announced`: the required fields, each explained)
    /// and `accord statement check` before signing or submitting.
    #[command(subcommand)]
    Statement(book::StatementCommand),
    /// DSSE envelopes: `accord envelope show FILE` prints the statement, who signed and who still must.
    #[command(subcommand)]
    Envelope(author::EnvelopeCommand),
    /// Query the coalition's book (tables, or JSON with --json); answers are read at a signed checkpoint.
    #[command(subcommand)]
    Query(book::QueryCommand),
    /// A plan's transparency report (markdown, html, csv, json, iati); `report verify` recomputes it from the
    /// log and compares byte for byte.
    Report(report::ReportArgs),
    /// Run a witness (C2SP tlog-witness) that cosigns consistent checkpoints.
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
    /// Audit the whole ledger (a database file or a server): signatures, rules, tree, checkpoints; exit 0
    /// only when all holds, evidence written on failure.
    Audit(audit::AuditArgs),
    /// Auditor workflow: select entries (by subject, party, period), list them, and sign an attestation
    /// over their identity hashes.
    Attest(audit::AttestArgs),
    /// Follow a ledger: verify every new checkpoint extends the last verified one (JSON lines).
    Monitor(monitor::MonitorArgs),
    /// Static C2SP tlog-tiles: `accord tiles export DIR` writes the log as files any web server can publish.
    #[command(subcommand)]
    Tiles(tiles::TilesCommand),
    /// Follow a log through its tiles, verify every tile and entry against checkpoints signed by the log
    /// key, keep them, and re-serve the same tlog-tiles API; refuses and reports a fork.
    Mirror(tiles::MirrorArgs),
    /// Exports of the ledger's data in other standards.
    #[command(subcommand)]
    Export(report::ExportCommand),
    /// Copy a ledger consistently while it serves (SQLite online backup), with its key and a manifest.
    Backup(ops::BackupArgs),
    /// Audit a backup completely, then install it as a new data directory.
    Restore(ops::RestoreArgs),
    /// Drop the projections and rebuild them by replaying the log (the ledger must not be served).
    Rebuild(book::RebuildArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(shell::CompletionsArgs),
    /// Write the manual pages (roff): accord.1 and one per subcommand, into a directory.
    Man(shell::ManArgs),
}

#[derive(Debug, Args, Clone)]
pub(crate) struct ServerArgs {
    /// gRPC endpoint of the ledger.
    #[arg(long, env = "ACCORD_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// Trusted log verifier key (name+hex8+base64) or a file holding it. Without it the server's own key is
    /// used (trust on first use) and a warning is printed.
    #[arg(long, env = "ACCORD_LOG_KEY")]
    pub log_key: Option<String>,
}

#[derive(Debug, Args)]
struct InitArgs {
    #[arg(long, env = "ACCORD_DATA_DIR", default_value = "./accord-data")]
    data_dir: PathBuf,
    /// Origin of the new ledger (a schema-less URL such as "coalition.example/ledger").
    #[arg(long, env = "ACCORD_ORIGIN")]
    origin: String,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Generate an Ed25519 key: writes PREFIX.key (private, mode 0600) and PREFIX.pub (verifier key).
    Generate {
        /// Key name (usually the party id); no spaces or '+'.
        #[arg(long)]
        name: String,
        /// Output path prefix (default: the name).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show a key file's public key, keyid and verifier key.
    Show { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum CharterCommand {
    /// Write the charter statement JSON for the founders to review and sign.
    Propose(ProposeArgs),
    /// Sign a charter (statement JSON or envelope) with your own key; same as `accord sign`.
    Sign(SignArgs),
    /// Combine the founders' separately signed envelopes into one.
    Combine {
        /// Envelopes over the same charter payload.
        #[arg(required = true)]
        envelopes: Vec<PathBuf>,
        /// Output file (default: stdout).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ProposeArgs {
    /// Ledger origin the charter binds to.
    #[arg(long, env = "ACCORD_ORIGIN")]
    origin: String,
    /// Coalition name.
    #[arg(long)]
    name: String,
    /// Purpose statement.
    #[arg(long, default_value = "")]
    purpose: String,
    /// A founder: "PARTY_ID;NAME;ROLE[,ROLE…];PUBKEY" where PUBKEY is a .pub file or verifier key.
    /// Optional 5th and 6th fields: IATI organisation type, ISO 3166 country.
    #[arg(long = "founder", required = true)]
    founders: Vec<String>,
    /// Admission rule: k members must sign an admission.
    #[arg(long, default_value_t = 1)]
    k: u32,
    /// Statement id (default: "charter").
    #[arg(long, default_value = "charter")]
    statement_id: String,
    /// Effective date YYYY-MM-DD (default: today, UTC).
    #[arg(long)]
    effective_date: Option<String>,
    #[arg(short, long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SignArgs {
    /// Your private key file.
    #[arg(long)]
    key: PathBuf,
    /// Statement JSON (protobuf JSON mapping of accord.v1.Statement) or a DSSE envelope JSON.
    input: PathBuf,
    /// Output envelope file (default: stdout).
    #[arg(short, long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SubmitArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// DSSE envelope JSON files.
    #[arg(required = true)]
    envelopes: Vec<PathBuf>,
    /// Submit all envelopes in one atomic SubmitBatch.
    #[arg(long)]
    batch: bool,
    /// Directory for the .tlog-proof bundles (default: beside each envelope).
    #[arg(long)]
    proof_dir: Option<PathBuf>,
}

/// A failure with its exit code.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

/// A failure whose details the command has already printed (e.g. a JSON verdict); only the exit code is left.
#[derive(Debug)]
pub(crate) struct Reported(pub u8);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed (details above)")
    }
}

impl std::error::Error for Reported {}

fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(r) = e.downcast_ref::<Reported>() {
        return r.0;
    }
    match e.downcast_ref::<Error>() {
        Some(e) if e.kind == Kind::Unavailable => 3,
        Some(e) if matches!(e.kind, Kind::Internal | Kind::DataLoss) => 4,
        // The data directory cannot be served as it is (missing database, a database behind the
        // high-water record, damaged pages, another process holding it): the operator must act.
        Some(e) if e.kind == Kind::FailedPrecondition && e.field == "data_dir" => 5,
        _ => 1,
    }
}

/// The `accord` command: parse the arguments, run the command and turn a failure into its exit code (3
/// unavailable, 4 internal or corrupt data, 5 a data directory the operator must repair, 1 any other; a
/// command that reported its failure itself picks its own).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    quiet_on_broken_pipe();
    init_tracing(&cli.log, &cli.log_format);
    let json = cli.json;
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("accord: cannot start the runtime: {e}");
            return ExitCode::from(4);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let f = Failure { code: exit_code(&error), error };
            if f.error.downcast_ref::<Reported>().is_some() {
                return ExitCode::from(f.code);
            }
            if json {
                println!("{}", json!({"ok": false, "error": format!("{:#}", f.error), "exit_code": f.code}));
            } else {
                eprintln!("accord: {:#}", f.error);
            }
            ExitCode::from(f.code)
        }
    }
}

fn init_tracing(filter: &str, format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: piped to a file, journald or a collector, escape codes are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}

async fn run(cli: Cli) -> Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Serve(a) => serve(a, json).await,
        Command::Init(a) => init(a, json),
        Command::Key(k) => key_cmd(k, json),
        Command::Charter(CharterCommand::Propose(a)) => propose(a),
        Command::Charter(CharterCommand::Sign(a)) | Command::Sign(a) => sign(a, json),
        Command::Charter(CharterCommand::Combine { envelopes, out }) => {
            let envs = envelopes.iter().map(|p| read_envelope(p)).collect::<Result<Vec<_>>>()?;
            let combined = crypto::combine(&envs)?;
            write_out(out.as_deref(), &sj::envelope_to_json(&combined))
        }
        Command::Submit(a) => submit(a, json).await,
        Command::Get(a) => get(a, json).await,
        Command::Checkpoint(a) => checkpoint(a, json).await,
        Command::Verify(a) => verify(a, json).await,
        Command::Consistency(a) => consistency(a, json).await,
        Command::Info(a) => info(a, json).await,
        Command::Health(a) => health(a, json).await,
        Command::Statement(c) => book::statement(c, json).await,
        Command::Envelope(c) => author::envelope(c, json).await,
        Command::Query(c) => book::query(c, json).await,
        Command::Rebuild(a) => book::rebuild(a, json),
        Command::Report(a) => report::run(a, json).await,
        Command::Backup(a) => ops::backup(a, json),
        Command::Restore(a) => ops::restore(a, json),
        Command::Export(c) => report::export(c, json).await,
        Command::Audit(a) => audit::audit(a, json).await,
        Command::Witness(c) => witness::run(c, json).await,
        Command::Attest(a) => audit::attest(a, json).await,
        Command::Monitor(a) => monitor::monitor(a).await,
        Command::Tiles(c) => tiles::run(c, json).await,
        Command::Mirror(a) => tiles::mirror(a, json).await,
        Command::Completions(a) => shell::completions(a),
        Command::Man(a) => shell::man(a, json),
    }
}

pub(crate) fn write_out(out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(p) => {
            std::fs::write(p, format!("{}\n", text.trim_end())).with_context(|| format!("writing {}", p.display()))
        }
        None => print_stdout(&format!("{}\n", text.trim_end())),
    }
}

/// Print to stdout; a reader that went away (`accord statement new … | head`) ends the output quietly
/// instead of a panic.
pub(crate) fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

/// A panic from `println!` on a closed pipe (the reader, e.g. `head`, is gone) is not a failure of the
/// command: exit quietly, as a Unix filter does on SIGPIPE.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn read_envelope(p: &Path) -> Result<pb::Envelope> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    sj::envelope_from_json(&text).with_context(|| format!("{}", p.display()))
}

pub(crate) async fn connect(a: &ServerArgs) -> Result<Client> {
    let key = a.log_key.as_deref().map(keys::read_log_key).transpose()?;
    if key.is_none() {
        eprintln!(
            "accord: warning: no --log-key given; trusting the key the server presents (pin it for real verification)"
        );
    }
    Ok(Client::connect(&a.server, key.as_deref()).await?)
}

fn init(a: InitArgs, json: bool) -> Result<()> {
    if a.data_dir.join(crate::ledger::DB_FILE).exists() {
        bail!("{} already holds a ledger", a.data_dir.display());
    }
    let mut opts = Options::new(&a.data_dir);
    opts.origin = Some(a.origin);
    let ledger = Ledger::open(opts)?;
    let vkey = ledger.verifier_key().to_string();
    ledger.close();
    if json {
        println!("{}", json!({"data_dir": a.data_dir, "verifier_key": vkey}));
    } else {
        println!("{vkey}");
    }
    Ok(())
}

fn key_cmd(k: KeyCommand, json: bool) -> Result<()> {
    match k {
        KeyCommand::Generate { name, out } => {
            if !crate::crypto::is_key_name_valid(&name) {
                bail!("--name: must be non-empty with no spaces or '+'");
            }
            let prefix = out.unwrap_or_else(|| PathBuf::from(&name));
            let key = crypto::generate_key();
            let priv_path = prefix.with_extension("key");
            let pub_path = prefix.with_extension("pub");
            crate::ledger::write_private(&priv_path, &crypto::private_key_string(&name, &key))?;
            let vk = crypto::verifier_key_string(&name, &key.verifying_key());
            std::fs::write(&pub_path, format!("{vk}\n"))?;
            print_key(&name, &key.verifying_key(), json, Some((&priv_path, &pub_path)));
            Ok(())
        }
        KeyCommand::Show { file } => {
            let text = std::fs::read_to_string(&file)?;
            let (name, pk) = if text.trim_start().starts_with("PRIVATE+KEY+") {
                let (n, k) = crypto::parse_private_key(&text)?;
                (n, k.verifying_key())
            } else {
                keys::read_public(text.trim())?
            };
            print_key(&name, &pk, json, None);
            Ok(())
        }
    }
}

fn print_key(name: &str, pk: &crypto::PublicKey, json: bool, files: Option<(&Path, &Path)>) {
    let vk = crypto::verifier_key_string(name, pk);
    use base64::Engine as _;
    if json {
        println!(
            "{}",
            json!({"name": name, "public_key_hex": hex::encode(pk.as_bytes()),
                   "public_key_base64": base64::prelude::BASE64_STANDARD.encode(pk.as_bytes()), "keyid": crypto::keyid(pk), "verifier_key": vk,
                   "private_key_file": files.map(|f| f.0), "public_key_file": files.map(|f| f.1)})
        );
    } else {
        if let Some((p, q)) = files {
            println!("wrote {} (private, keep it secret) and {}", p.display(), q.display());
        }
        let b64 = base64::prelude::BASE64_STANDARD.encode(pk.as_bytes());
        println!("verifier key:        {vk}");
        println!("  (the .pub file's form; paste it into publicKeys, --founder or --log-key)");
        println!("public key (hex):    {}", hex::encode(pk.as_bytes()));
        println!("  (also accepted in publicKeys and --founder)");
        println!("public key (base64): {b64}");
        println!("  (the protobuf JSON mapping's form of publicKeys, as statements are printed)");
        println!("keyid:               {}", crypto::keyid(pk));
        println!("  (lowercase hex SHA-256 of the key: names the key in envelopes, key.rotated and key.revoked)");
    }
}

pub(crate) fn today() -> String {
    let ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    crate::domain::date::format_date(crate::domain::date::day_of_ms(ms))
}

fn now_timestamp() -> prost_types::Timestamp {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp { seconds: d.as_secs() as i64, nanos: 0 }
}

fn propose(a: ProposeArgs) -> Result<()> {
    let mut founders = Vec::new();
    for (i, f) in a.founders.iter().enumerate() {
        let parts: Vec<&str> = f.split(';').collect();
        let [party_id, name, roles, key, ..] = parts.as_slice() else {
            bail!(
                "--founder #{}: expected \"PARTY_ID;NAME;ROLE[,ROLE…];PUBKEY[;ORG_TYPE[;COUNTRY]]\"",
                i.saturating_add(1)
            );
        };
        if parts.len() > 6 {
            bail!(
                "--founder #{}: expected \"PARTY_ID;NAME;ROLE[,ROLE…];PUBKEY[;ORG_TYPE[;COUNTRY]]\"",
                i.saturating_add(1)
            );
        }
        let (_, pk) =
            keys::read_public(key).with_context(|| format!("--founder #{}: public key", i.saturating_add(1)))?;
        founders.push(pb::Party {
            party_id: party_id.trim().to_string(),
            name: name.trim().to_string(),
            roles: roles.split(',').map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect(),
            public_keys: vec![pk.as_bytes().to_vec()],
            organisation_type: parts.get(4).map(|s| s.trim().to_string()).unwrap_or_default(),
            country: parts.get(5).map(|s| s.trim().to_string()).unwrap_or_default(),
        });
    }
    let st = pb::Statement {
        ledger: a.origin.clone(),
        statement_id: a.statement_id,
        issued_at: Some(now_timestamp()),
        effective_date: a.effective_date.unwrap_or_else(today),
        body: Some(pb::statement::Body::Charter(pb::Charter {
            name: a.name,
            founders,
            admission: Some(pb::AdmissionRule { k: a.k }),
            purpose: a.purpose,
        })),
    };
    crate::proto::check_statement(&st, &a.origin).map_err(|e| anyhow!("charter: {e}"))?;
    write_out(a.out.as_deref(), &sj::statement_to_json(&st)?)
}

fn sign(a: SignArgs, json: bool) -> Result<()> {
    let (name, key) = keys::read_private(&a.key)?;
    let text = std::fs::read_to_string(&a.input).with_context(|| format!("reading {}", a.input.display()))?;
    let value: serde_json::Value = serde_json::from_str(&sj::strip_comments(&text))
        .with_context(|| format!("{} is not JSON", a.input.display()))?;
    let env = if value.get("payloadType").is_some() {
        let mut env = sj::envelope_from_json(&text)?;
        crypto::add_signature(&mut env, &key);
        env
    } else {
        let st = sj::statement_from_json(&text).with_context(|| format!("{}", a.input.display()))?;
        crypto::seal(&st, &[&key])
    };
    write_out(a.out.as_deref(), &sj::envelope_to_json(&env))?;
    let keyid = crypto::keyid(&key.verifying_key());
    let keyids: Vec<&str> = env.signatures.iter().map(|s| s.keyid.as_str()).collect();
    match (&a.out, json) {
        // The envelope itself went to stdout: it is the result (a JSON object); a note goes to stderr.
        (None, true) => {}
        (None, false) => eprintln!("signed by {name} (keyid {keyid}); {} signature(s)", keyids.len()),
        (Some(p), true) => print_stdout(&format!(
            "{}\n",
            json!({"ok": true, "envelope": p, "signer": name, "keyid": keyid, "signatures": keyids.len(), "keyids": keyids})
        ))?,
        (Some(p), false) => print_stdout(&format!(
            "{}: signed by {name} (keyid {keyid}); {} signature(s)\n",
            p.display(),
            keyids.len()
        ))?,
    }
    Ok(())
}

fn receipt_json(v: &client::VerifiedReceipt, bundle_path: Option<&Path>) -> serde_json::Value {
    let r = &v.receipt;
    json!({
        "index": r.index,
        "identity": hex::encode(&r.identity),
        "leaf_hash": hex::encode(&r.leaf_hash),
        "integrated_at_ms": r.integrated_at_ms,
        "tree_size": r.tree_size,
        "root_hash": hex::encode(v.checkpoint.root),
        "duplicate": r.duplicate,
        "checkpoint": r.checkpoint,
        "proof_bundle": bundle_path,
        "verified": true,
    })
}

async fn submit(a: SubmitArgs, json: bool) -> Result<()> {
    let mut c = connect(&a.server).await?;
    let envs = a.envelopes.iter().map(|p| read_envelope(p)).collect::<Result<Vec<_>>>()?;
    let receipts = if a.batch {
        c.submit_batch(envs).await?
    } else {
        let mut out = Vec::new();
        for (p, e) in a.envelopes.iter().zip(envs) {
            out.push(c.submit(e).await.with_context(|| format!("{}", p.display()))?);
        }
        out
    };
    let mut outs = Vec::new();
    for (p, r) in a.envelopes.iter().zip(&receipts) {
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "entry".into());
        let dir = a.proof_dir.clone().unwrap_or_else(|| p.parent().map(Path::to_path_buf).unwrap_or_default());
        let bundle_path = dir.join(format!("{stem}.tlog-proof"));
        std::fs::write(&bundle_path, r.bundle().to_text())
            .with_context(|| format!("writing {}", bundle_path.display()))?;
        if json {
            outs.push(receipt_json(r, Some(&bundle_path)));
        } else {
            println!(
                "{}: entry {} in tree of size {}{} — inclusion verified; proof bundle {}",
                p.display(),
                r.receipt.index,
                r.receipt.tree_size,
                if r.receipt.duplicate { " (already in the log)" } else { "" },
                bundle_path.display()
            );
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&json!({"ok": true, "receipts": outs}))?);
    }
    Ok(())
}

//! The command line: subcommands, options and the help text (with examples)
//! that clap prints for them.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit status:
  0       success
  1       the server answered an error code outside 1..=99, or another failure
  2       bad arguments: usage, JSON body, token file, CA file
  3       no usable connection: cannot connect, TLS failure, timeout, closed
  4       the server's answer is not what was expected (not TPP, no result key)
  10+N    the server answered error code N (1..=99): 11 = error, 12 = no auth
          token, 13 = bad auth token; `error N: MESSAGE` is printed on stderr";

const MAIN_EXAMPLES: &str = "\
Examples:
  tpp call localhost:6666 echo name=ana
  tpp funcs localhost:6666 --insecure
  tpp hash-token --cost 12 < token.txt";

const CALL_EXAMPLES: &str = "\
Body:
  (nothing)          sends {}
  JSON               one argument, the whole body: '{\"name\": \"ana\"}', '[1, 2]', null
  KEY=VALUE ...      an object; KEY=VALUE is always a string (tree=1234e5, n=007),
  KEY:=JSON ...      KEY:=JSON is raw JSON: n:=5, ok:=true, tags:='[\"a\"]', x:=NaN
  -                  JSON read from standard input
  @FILE              JSON read from FILE

Examples:
  tpp call localhost:6666 repo-list --token-file ~/.tpp-token
  read -rs TPP_TOKEN && export TPP_TOKEN    # typed once, kept out of shell history
  tpp call localhost:6666 repo-add repo_name=tpp repo_url=https://example.com/tpp.git \\
      update_seconds:=300 vcs_type=git --field user_id=5f2a
  echo '{\"steps\": 3}' | tpp call --ca ca.pem ci.example.com:7777 build - --stream
  tpp call -k localhost:7777 build steps:=3 --stream | jq .step
  tpp call localhost:6666 repo-list --raw";

const FUNCS_EXAMPLES: &str = "\
Examples:
  tpp funcs localhost:6666
  tpp funcs --insecure ci.example.com:6666 --token-file ~/.tpp-token
  tpp funcs localhost:6666 --json | jq 'keys'";

const DESCRIBE_EXAMPLES: &str = "\
Examples:
  tpp describe localhost:6666 -o repos.json   # commit it beside the code
  tpp describe localhost:6666 | jq '.services[].actions[].name'
A tpp server answers its full description (types as JSON Schemas, errors); a
toxiccore server its plain list-funcs (names, docs, parameters).";

const GEN_EXAMPLES: &str = "\
Examples:
  tpp gen python repos.json -o repos_client.py
  tpp gen python localhost:6666 -o repos_client.py --token-file token.txt
The module has a client class per service (`ReposClient` for `trait Repos`),
one async method per action, dataclasses and enums for the types, and one
exception class per error variant.";

const DIFF_EXAMPLES: &str = "\
Examples:
  tpp diff repos.json localhost:6666          # the committed contract against a build
  tpp diff old.json new.json || echo breaking
In CI: commit the description (tpp describe -o), describe the new build, and
fail the build when `tpp diff` exits 1.

Exit status:
  0       no change, or only changes existing callers cannot notice (added
          actions or optional parameters, widened parameter types, ...)
  1       a breaking change: an action removed or renamed, a parameter added as
          required or removed, a type narrowed or changed, an error code removed
          or renumbered, unary <-> stream
  2       bad arguments; 3, 4, 10+N as for `tpp call` when fetching";

const HASH_EXAMPLES: &str = "\
Examples:
  tpp hash-token                       # type the token, then Enter
  tpp hash-token < token.txt           # from a file, without it in shell history
  tpp hash-token --cost 4 test-token   # cheap hash for tests
The hash ($2b$) is what toxiccore's bcrypt_string makes: use it as a toxiccore
server's encrypted_token, or with tpp's ServerBuilder::token_hash.";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  tpp completions bash > ~/.local/share/bash-completion/completions/tpp
  tpp completions zsh > ~/.zfunc/_tpp      # with fpath+=(~/.zfunc) in .zshrc
  tpp completions fish > ~/.config/fish/completions/tpp.fish";

/// `tpp`: grpcurl for TPP.
#[derive(Debug, Parser)]
#[command(
    name = "tpp",
    version,
    about = "Call, inspect and configure TPP (ToxicBuild Poor's Protocol) services",
    after_help = MAIN_EXAMPLES,
    after_long_help = format!("{MAIN_EXAMPLES}\n\n{EXIT_CODES}"),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a request and print its result as JSON
    #[command(
        after_help = format!("{CALL_EXAMPLES}\n\n{EXIT_CODES}"),
        long_about = "Send a request {token, action, body, ...fields} and print the result: \
            body[ACTION] of the response (the whole body with --raw) as pretty JSON, \
            colored on a terminal. With --stream, print every response's body as one JSON \
            line until the server closes the connection."
    )]
    Call(CallArgs),
    /// List the actions of a service (its list-funcs) as a table
    #[command(after_help = format!("{FUNCS_EXAMPLES}\n\n{EXIT_CODES}"))]
    Funcs(FuncsArgs),
    /// Print a service's description (actions, parameters and their types, errors) as JSON
    #[command(after_help = format!("{DESCRIBE_EXAMPLES}\n\n{EXIT_CODES}"))]
    Describe(DescribeArgs),
    /// Compare two descriptions (files or servers); exit 1 on a breaking change
    #[command(after_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// Write a typed client module for a service, from its description
    #[command(after_help = GEN_EXAMPLES)]
    Gen(GenArgs),
    /// Print a bcrypt hash of a token, for a server's configuration
    #[command(after_help = HASH_EXAMPLES)]
    HashToken(HashArgs),
    /// Print a shell completion script
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
}

/// `tpp call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The server, HOST:PORT ([v6 address]:PORT, or just PORT for localhost), or unix:PATH
    #[arg(value_name = "HOST:PORT")]
    pub target: Target,
    /// The action to call
    pub action: String,
    /// The body: one JSON value, KEY=VALUE (string) and KEY:=JSON pairs, `-` (stdin) or @FILE
    #[arg(value_name = "BODY", allow_negative_numbers = true)]
    pub body: Vec<String>,
    /// Print the whole response body, not only body[ACTION]
    #[arg(long, conflicts_with = "stream")]
    pub raw: bool,
    /// Print every response of a streaming action as one JSON line, until the server closes
    #[arg(long)]
    pub stream: bool,
    /// With --stream: give up when no response arrives for this long (default: wait)
    #[arg(long, value_name = "DURATION", requires = "stream")]
    pub idle_timeout: Option<Timeout>,
    /// Print the result on one line
    #[arg(short, long)]
    pub compact: bool,
    /// Extra top-level request field, as toxicbuild's user_id (repeatable; KEY=VALUE is a
    /// string, KEY:=JSON raw JSON)
    #[arg(short = 'F', long = "field", value_name = "KEY=VALUE")]
    pub fields: Vec<String>,
    /// When to color the JSON
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Check the body against this description (from `tpp describe -o FILE`) instead of
    /// asking the server for its own
    #[arg(long, value_name = "FILE", conflicts_with = "no_check")]
    pub describe: Option<PathBuf>,
    /// Send the body as given: do not ask the server for its description, check nothing
    #[arg(long)]
    pub no_check: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `tpp describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The server, HOST:PORT ([v6 address]:PORT, or just PORT for localhost)
    #[arg(value_name = "HOST:PORT")]
    pub target: Target,
    /// Write the description to FILE instead of printing it
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// When to color the JSON
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `tpp diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The description callers were written against: a FILE, or a server's HOST:PORT
    #[arg(value_name = "OLD")]
    pub old: String,
    /// The new description: a FILE, or a server's HOST:PORT
    #[arg(value_name = "NEW")]
    pub new: String,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// The languages `tpp gen` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Language {
    /// An asyncio module, standard library only, Python >= 3.9, `mypy --strict` clean
    Python,
}

/// `tpp gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// The language to write
    #[arg(value_enum, value_name = "LANGUAGE")]
    pub language: Language,
    /// The description: a FILE (`tpp describe -o`), or a server's HOST:PORT
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// Write the module to FILE instead of printing it
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `tpp funcs`.
#[derive(Debug, Args)]
pub struct FuncsArgs {
    /// The server, HOST:PORT ([v6 address]:PORT, or just PORT for localhost), or unix:PATH
    #[arg(value_name = "HOST:PORT")]
    pub target: Target,
    /// Print list-funcs' JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// Print each action's whole doc, not only its first line
    #[arg(short, long)]
    pub long: bool,
    /// When to color the output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// How to reach and authenticate to the server (`call` and `funcs`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnArgs {
    /// The token [default: the TPP_TOKEN environment variable]
    #[arg(short, long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Read the token from FILE (its first line)
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// Use TLS, validating the certificate against the system's roots
    #[arg(long)]
    pub tls: bool,
    /// Use TLS without validating the certificate (self-signed servers)
    #[arg(short = 'k', long, conflicts_with_all = ["ca", "pin"])]
    pub insecure: bool,
    /// Use TLS, trusting only the CA certificate(s) in this PEM file
    #[arg(long, value_name = "FILE", conflicts_with = "pin")]
    pub ca: Option<PathBuf>,
    /// Use TLS, accepting only a server whose certificate is in this PEM file
    /// (a self-signed server's own certificate; its name and dates are not checked)
    #[arg(long, value_name = "FILE")]
    pub pin: Option<PathBuf>,
    /// The name to check the certificate against [default: HOST; localhost for unix:PATH]
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Present this client certificate (PEM, own certificate first) to a server that asks for
    /// one (mutual TLS; with --tls, --ca, --pin or -k)
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of --cert
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Give up after this long (connect, send, answer): 30, 2.5s, 500ms, 1m; 0 waits forever.
    /// With --stream it bounds connecting and sending
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub timeout: Timeout,
}

impl ConnArgs {
    /// Whether any TLS option was given.
    pub fn uses_tls(&self) -> bool {
        self.tls || self.insecure || self.ca.is_some() || self.pin.is_some()
    }
}

/// `tpp hash-token`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// The token [default: read from standard input]
    pub token: Option<String>,
    /// The bcrypt cost (work factor): each step doubles the time of a check
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(4..=31))]
    pub cost: u32,
}

/// `tpp completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Color when printing to a terminal and NO_COLOR is not set
    Auto,
    /// Always color
    Always,
    /// Never color
    Never,
}

/// A server address: host (name or IP, without brackets) and port, or a
/// Unix domain socket's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Name or IP address, IPv6 without brackets (`localhost` for a Unix
    /// socket: the name its certificate is checked against).
    pub host: String,
    /// TCP port (0 for a Unix socket).
    pub port: u16,
    /// `unix:PATH`: the socket's path.
    pub unix: Option<PathBuf>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.unix {
            write!(f, "unix:{}", path.display())
        } else if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(0) => Err("port 0 is not a server's port".into()),
        Ok(p) => Ok(p),
        Err(_) => Err(format!("{s:?} is not a port number (1-65535)")),
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("expected unix:PATH, got no path".into());
            }
            return Ok(Target {
                host: "localhost".into(),
                port: 0,
                unix: Some(path.into()),
            });
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (host, port) = rest
                .split_once("]:")
                .ok_or_else(|| format!("expected [IPv6]:PORT, got {s:?}"))?;
            if host.is_empty() {
                return Err(format!("no address in {s:?}"));
            }
            return Ok(Target {
                host: host.to_owned(),
                port: parse_port(port)?,
                unix: None,
            });
        }
        match s.rsplit_once(':') {
            None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Ok(Target {
                host: "localhost".into(),
                port: parse_port(s)?,
                unix: None,
            }),
            None => Err(format!("expected HOST:PORT, got {s:?}")),
            Some((host, _)) if host.contains(':') => Err(format!(
                "put an IPv6 address in brackets: [{host}]:PORT, got {s:?}"
            )),
            Some(("", port)) => Ok(Target {
                host: "localhost".into(),
                port: parse_port(port)?,
                unix: None,
            }),
            Some((host, port)) => Ok(Target {
                host: host.to_owned(),
                port: parse_port(port)?,
                unix: None,
            }),
        }
    }
}

/// A duration option; `None` inside means "no limit".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

impl FromStr for Timeout {
    type Err = String;

    fn from_str(s: &str) -> Result<Timeout, String> {
        let t = s.trim();
        let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
            (n, 0.001)
        } else if let Some(n) = t.strip_suffix('s') {
            (n, 1.0)
        } else if let Some(n) = t.strip_suffix('m') {
            (n, 60.0)
        } else if let Some(n) = t.strip_suffix('h') {
            (n, 3600.0)
        } else {
            (t, 1.0)
        };
        let bad = || format!("{s:?} is not a duration (examples: 30, 2.5s, 500ms, 1m, 0 for none)");
        let value: f64 = number.trim().parse().map_err(|_| bad())?;
        if !value.is_finite() || value < 0.0 {
            return Err(bad());
        }
        let seconds = value * scale;
        if seconds == 0.0 {
            return Ok(Timeout(None));
        }
        Duration::try_from_secs_f64(seconds)
            .map(|d| Timeout(Some(d)))
            .map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    fn target(s: &str) -> Result<(String, u16), String> {
        s.parse::<Target>().map(|t| (t.host, t.port))
    }

    #[test]
    fn parses_targets() {
        assert_eq!(target("localhost:7777"), Ok(("localhost".into(), 7777)));
        assert_eq!(target("10.0.0.1:1"), Ok(("10.0.0.1".into(), 1)));
        assert_eq!(target("[::1]:80"), Ok(("::1".into(), 80)));
        assert_eq!(target(":80"), Ok(("localhost".into(), 80)));
        assert_eq!(target("80"), Ok(("localhost".into(), 80)));
        for bad in [
            "",
            "host",
            "host:",
            "host:x",
            "host:0",
            "host:70000",
            "::1:80",
            "[::1]",
            "[]:1",
        ] {
            assert!(target(bad).is_err(), "{bad:?}");
        }
        let v6 = "[::1]:80".parse::<Target>().unwrap();
        assert_eq!(v6.to_string(), "[::1]:80");
    }

    #[test]
    fn parses_unix_socket_targets() {
        let unix = "unix:/run/tpp/app.sock".parse::<Target>().unwrap();
        assert_eq!(
            unix.unix.as_deref(),
            Some(std::path::Path::new("/run/tpp/app.sock"))
        );
        assert_eq!(
            unix.host, "localhost",
            "the name a certificate is checked against"
        );
        assert_eq!(unix.to_string(), "unix:/run/tpp/app.sock");
        let relative = "unix:app.sock".parse::<Target>().unwrap();
        assert_eq!(
            relative.unix.as_deref(),
            Some(std::path::Path::new("app.sock"))
        );
        assert!("unix:".parse::<Target>().is_err());
        assert_eq!("localhost:1".parse::<Target>().unwrap().unix, None);
    }

    #[test]
    fn parses_durations() {
        let d = |s: &str| s.parse::<Timeout>().map(|t| t.0);
        assert_eq!(d("30"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(d("2.5s"), Ok(Some(Duration::from_millis(2500))));
        assert_eq!(d("500ms"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(d("1m"), Ok(Some(Duration::from_secs(60))));
        assert_eq!(d("0"), Ok(None));
        for bad in ["", "x", "-1", "1d", "NaN", "inf", "1e300h"] {
            assert!(d(bad).is_err(), "{bad:?}");
        }
    }
}

//! `tpp hash-token`: the bcrypt hash a server stores instead of its token,
//! made as toxiccore's `bcrypt_string` makes it (`$2b$`, cost 12 by default).

use std::io::{BufRead, IsTerminal, Write};

use tpp_rpc::auth::BCRYPT_MAX_TOKEN_LEN;

use crate::args::HashArgs;
use crate::failure::Failure;

/// Checks a token before hashing it: not empty (a server reads an empty
/// token as none), and no longer than bcrypt reads (never truncated silently).
pub fn check_token(token: &str) -> Result<(), Failure> {
    if token.is_empty() {
        return Err(Failure::Usage("the token is empty".into()));
    }
    if token.len() > BCRYPT_MAX_TOKEN_LEN {
        return Err(Failure::Usage(format!(
            "the token is {} bytes long; bcrypt reads at most {BCRYPT_MAX_TOKEN_LEN} \
             (servers refuse longer tokens rather than cut them)",
            token.len()
        )));
    }
    Ok(())
}

/// The first line of `input`, without its line ending.
pub fn read_token(mut input: impl BufRead) -> Result<String, Failure> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| Failure::Usage(format!("cannot read the token from standard input: {e}")))?;
    let token = line.strip_suffix('\n').unwrap_or(&line);
    let token = token.strip_suffix('\r').unwrap_or(token);
    Ok(token.to_owned())
}

/// Runs `tpp hash-token`.
pub fn run(args: HashArgs) -> Result<(), Failure> {
    let token = match args.token {
        Some(token) => token,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprint!("Token to hash (shown as you type; or pipe it in): ");
                let _ = std::io::stderr().flush();
            }
            read_token(stdin.lock())?
        }
    };
    check_token(&token)?;
    let hash = tpp_rpc::BcryptToken::hash(&token, args.cost)
        .map_err(|e| Failure::Other(format!("cannot hash the token: {e}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{hash}")
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_line() {
        assert_eq!(read_token("tok\nrest\n".as_bytes()).unwrap(), "tok");
        assert_eq!(read_token("tok\r\n".as_bytes()).unwrap(), "tok");
        assert_eq!(read_token("tok".as_bytes()).unwrap(), "tok");
        assert_eq!(read_token(" a b \n".as_bytes()).unwrap(), " a b ");
        assert_eq!(read_token("".as_bytes()).unwrap(), "");
    }

    #[test]
    fn refuses_empty_and_overlong_tokens() {
        assert!(check_token("").is_err());
        assert!(check_token(&"x".repeat(72)).is_ok());
        let err = check_token(&"é".repeat(37)).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("74 bytes"), "{err}");
    }

    #[test]
    fn hashes_verify() {
        let hash = tpp_rpc::BcryptToken::hash("s3cret-ç", 4).unwrap();
        assert!(hash.starts_with("$2b$04$"), "{hash}");
        let auth = tpp_rpc::BcryptToken::new(hash).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        use tpp_rpc::Authenticator;
        assert!(rt.block_on(auth.check("s3cret-ç").verdict()));
        assert!(!rt.block_on(auth.check("s3cret-c").verdict()));
    }
}

//! Printing JSON: pretty (two-space indent) or compact (one line, as
//! `jq -c`), colored or plain.
//!
//! The printer reformats the JSON *text* the server sent rather than a parsed
//! value, so numbers are printed with exactly the digits received (a Python
//! integer of any size, `5.0` staying `5.0`). Strings are decoded and
//! re-escaped: `\u00e9` from Python prints as `é`, while control characters
//! (C0, DEL and C1) stay escaped so a response cannot drive the terminal.

use std::io::{self, Write};

use crate::args::ColorChoice;

/// Whether to color: `--color always|never` decide; `auto` colors a terminal
/// unless `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
pub fn use_color(
    choice: ColorChoice,
    is_terminal: bool,
    no_color: Option<&std::ffi::OsStr>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

/// [`use_color`] for this process's stdout or stderr.
pub fn color_for(choice: ColorChoice, stream: &impl std::io::IsTerminal) -> bool {
    use_color(
        choice,
        stream.is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// Layout of printed JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Indented, one member per line.
    Pretty,
    /// One line, no spaces.
    Compact,
}

/// ANSI styles (SGR parameters).
pub mod style {
    /// Object keys: bold blue.
    pub const KEY: &str = "1;34";
    /// Strings: green.
    pub const STRING: &str = "32";
    /// Numbers: cyan.
    pub const NUMBER: &str = "36";
    /// `true`, `false`: yellow.
    pub const BOOL: &str = "33";
    /// `null`: grey.
    pub const NULL: &str = "90";
    /// Headings: bold.
    pub const BOLD: &str = "1";
    /// Error labels: bold red.
    pub const ERROR: &str = "1;31";
}

/// Writes `text` in `style` when `color`, as is otherwise.
pub fn paint(out: &mut impl Write, color: bool, style: &str, text: &str) -> io::Result<()> {
    if color {
        write!(out, "\x1b[{style}m{text}\x1b[0m")
    } else {
        out.write_all(text.as_bytes())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Open(u8),
    Close(u8),
    Colon,
    Comma,
    Str(&'a str),
    Scalar(&'a str),
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let bytes = self.text.as_bytes();
        while bytes.get(self.pos).is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
        let start = self.pos;
        let first = *bytes.get(start)?;
        let token = match first {
            b'{' | b'[' => Token::Open(first),
            b'}' | b']' => Token::Close(first),
            b':' => Token::Colon,
            b',' => Token::Comma,
            b'"' => {
                let mut i = start + 1;
                while let Some(&b) = bytes.get(i) {
                    match b {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                let end = (i + 1).min(bytes.len());
                self.pos = end;
                return Some(Token::Str(self.text.get(start..end).unwrap_or("\"\"")));
            }
            _ => {
                let mut i = start;
                while bytes
                    .get(i)
                    .is_some_and(|b| !b.is_ascii_whitespace() && !b"{}[]:,\"".contains(b))
                {
                    i += 1;
                }
                let i = i.max(start + 1).min(bytes.len());
                // Step over a whole character so slicing stays on boundaries.
                let end = (i..=bytes.len())
                    .find(|&e| self.text.is_char_boundary(e))
                    .unwrap_or(bytes.len());
                self.pos = end;
                return Some(Token::Scalar(&self.text[start..end]));
            }
        };
        self.pos = start + 1;
        Some(token)
    }
}

/// Writes a JSON string token decoded and re-escaped for a terminal.
fn write_string(out: &mut impl Write, color: bool, style: &str, token: &str) -> io::Result<()> {
    let Ok(decoded) = serde_json::from_str::<String>(token) else {
        // A lone surrogate escape, say: print what was received.
        return paint(out, color, style, token);
    };
    let mut s = String::with_capacity(decoded.len() + 2);
    s.push('"');
    for c in decoded.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\u{8}' => s.push_str("\\b"),
            '\u{c}' => s.push_str("\\f"),
            c if c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c) => {
                s.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => s.push(c),
        }
    }
    s.push('"');
    paint(out, color, style, &s)
}

fn scalar_style(token: &str) -> &'static str {
    match token {
        "null" => style::NULL,
        "true" | "false" => style::BOOL,
        _ => style::NUMBER,
    }
}

fn newline(out: &mut impl Write, depth: usize) -> io::Result<()> {
    out.write_all(b"\n")?;
    for _ in 0..depth {
        out.write_all(b"  ")?;
    }
    Ok(())
}

/// Writes the JSON text `json` (assumed valid: it came through serde_json)
/// followed by a newline.
pub fn write_json(out: &mut impl Write, json: &str, layout: Layout, color: bool) -> io::Result<()> {
    let pretty = layout == Layout::Pretty;
    let mut tokens = Lexer { text: json, pos: 0 }.peekable();
    let mut depth = 0usize;
    while let Some(token) = tokens.next() {
        match token {
            Token::Open(open) => {
                if matches!(tokens.peek(), Some(Token::Close(_))) {
                    let close = match tokens.next() {
                        Some(Token::Close(c)) => c,
                        _ => {
                            if open == b'{' {
                                b'}'
                            } else {
                                b']'
                            }
                        }
                    };
                    out.write_all(&[open, close])?;
                } else {
                    out.write_all(&[open])?;
                    depth += 1;
                    if pretty {
                        newline(out, depth)?;
                    }
                }
            }
            Token::Close(close) => {
                depth = depth.saturating_sub(1);
                if pretty {
                    newline(out, depth)?;
                }
                out.write_all(&[close])?;
            }
            Token::Comma => {
                out.write_all(b",")?;
                if pretty {
                    newline(out, depth)?;
                }
            }
            Token::Colon => out.write_all(if pretty { b": " } else { b":" })?,
            Token::Str(s) => {
                let style = if matches!(tokens.peek(), Some(Token::Colon)) {
                    style::KEY
                } else {
                    style::STRING
                };
                write_string(out, color, style, s)?;
            }
            Token::Scalar(s) => paint(out, color, scalar_style(s), s)?,
        }
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(json: &str, layout: Layout, color: bool) -> String {
        let mut out = Vec::new();
        write_json(&mut out, json, layout, color).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn pretty_prints_with_two_spaces() {
        let json = r#"{"a": [1, 2.0, {"b": null}], "c": {}, "d": [], "e": "x"}"#;
        assert_eq!(
            fmt(json, Layout::Pretty, false),
            "{\n  \"a\": [\n    1,\n    2.0,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {},\n  \"d\": [],\n  \"e\": \"x\"\n}\n"
        );
        assert_eq!(fmt("5", Layout::Pretty, false), "5\n");
        assert_eq!(fmt("[ ]", Layout::Pretty, false), "[]\n");
    }

    #[test]
    fn compact_is_one_line() {
        let json = "{\"a\": [1, 2.0],\n \"b\": {\"c\": true}}";
        assert_eq!(
            fmt(json, Layout::Compact, false),
            "{\"a\":[1,2.0],\"b\":{\"c\":true}}\n"
        );
    }

    #[test]
    fn keeps_numbers_exactly() {
        let json = "[123456789012345678901234567890, 5.0, -1e-7, 1E+400]";
        assert_eq!(
            fmt(json, Layout::Compact, false),
            "[123456789012345678901234567890,5.0,-1e-7,1E+400]\n"
        );
    }

    #[test]
    fn decodes_python_escapes_and_keeps_controls_escaped() {
        let json = r#"{"s": "passo \u2714 \u6784 \ud83d\ude80 \"q\" \\ \u001b[31m \u009b x\ty"}"#;
        assert_eq!(
            fmt(json, Layout::Compact, false),
            "{\"s\":\"passo ✔ 构 🚀 \\\"q\\\" \\\\ \\u001b[31m \\u009b x\\ty\"}\n"
        );
        // A lone surrogate cannot be decoded: printed as received.
        assert_eq!(fmt(r#""\ud800""#, Layout::Compact, false), "\"\\ud800\"\n");
    }

    #[test]
    fn colors_keys_strings_numbers_bools_and_null() {
        let out = fmt(r#"{"k": ["s", 1, true, null]}"#, Layout::Compact, true);
        assert_eq!(
            out,
            "{\x1b[1;34m\"k\"\x1b[0m:[\x1b[32m\"s\"\x1b[0m,\x1b[36m1\x1b[0m,\x1b[33mtrue\x1b[0m,\x1b[90mnull\x1b[0m]}\n"
        );
        assert!(!fmt(r#"{"k": 1}"#, Layout::Pretty, false).contains('\x1b'));
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "",
            "\"",
            "\"\\",
            "{",
            "}",
            "]]",
            "é",
            "{\"a\"",
            "1 2",
            "\"\\u12\"",
            "€x",
        ] {
            for layout in [Layout::Pretty, Layout::Compact] {
                let _ = fmt(text, layout, true);
            }
        }
    }

    #[test]
    fn color_decision() {
        use std::ffi::OsStr;
        assert!(use_color(ColorChoice::Auto, true, None));
        assert!(!use_color(ColorChoice::Auto, false, None));
        assert!(!use_color(ColorChoice::Auto, true, Some(OsStr::new("1"))));
        assert!(use_color(ColorChoice::Auto, true, Some(OsStr::new(""))));
        assert!(use_color(ColorChoice::Always, false, Some(OsStr::new("1"))));
        assert!(!use_color(ColorChoice::Never, true, None));
    }
}

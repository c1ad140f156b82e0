//! `tpp funcs`: a service's `list-funcs`, as a table.
//!
//! The answer has toxicbuild's hole's shape (what `tpp_rpc::service::answer_list_funcs`
//! sends): `{"list-funcs": {"<action>": {"doc": "…", "parameters":
//! [{"name": "…", "required": true|false, "default": …}]}}}`. Actions are
//! shown in the server's order.

use std::io::Write;

use serde_json::value::RawValue;

use crate::args::FuncsArgs;
use crate::failure::Failure;
pub use crate::funclist::{parse, Func, Param, LIST_FUNCS};
use crate::output::{color_for, paint, style, write_json, Layout};
use crate::session::{result_json, Session};

/// A doc without the indentation Python docstrings carry (as
/// `inspect.cleandoc`): first line trimmed, common indent of the rest removed,
/// blank lines at both ends dropped.
pub fn clean_doc(doc: &str) -> Vec<String> {
    let mut lines = doc.lines();
    let first = lines.next().unwrap_or_default().trim().to_owned();
    let rest: Vec<&str> = lines.collect();
    let indent = rest
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = vec![first];
    out.extend(rest.iter().map(|l| {
        l.get(indent..)
            .unwrap_or_else(|| l.trim_start())
            .trim_end()
            .to_owned()
    }));
    while out.first().is_some_and(|l| l.is_empty()) {
        out.remove(0);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

/// One parameter as shown: `name` (required), `[name=default]` or `[name]`; with its type
/// when known: `name: string`, `[n: integer=1]`.
pub fn param_text(p: &Param) -> String {
    let name = match &p.ty {
        Some(ty) => format!("{}: {ty}", p.name),
        None => p.name.clone(),
    };
    match (&p.required, &p.default) {
        (true, _) => name,
        (false, Some(default)) => format!("[{name}={default}]"),
        (false, None) => format!("[{name}]"),
    }
}

/// The actions of a full description, with each parameter's type.
pub fn from_description(description: &tpp_rpc::Description) -> Vec<Func> {
    description
        .actions()
        .map(|(_, action)| Func {
            name: action.name.clone(),
            doc: action.doc.clone(),
            params: action
                .params
                .iter()
                .map(|p| Param {
                    name: p.name.clone(),
                    required: p.required,
                    default: p.default.clone(),
                    ty: Some(crate::contract::short_type(&p.schema)),
                })
                .collect(),
            policy: policy_text(&action.policy),
        })
        .collect()
}

/// `timeout 5000 ms, at most 4 at once, idempotent`; `None` when nothing is declared.
fn policy_text(policy: &tpp_rpc::describe::PolicyDescription) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(ms) = policy.timeout_ms {
        parts.push(format!("timeout {ms} ms"));
    }
    if let Some(n) = policy.concurrency {
        parts.push(format!("at most {n} at once"));
    }
    if policy.idempotent {
        parts.push("idempotent".to_owned());
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Widest parameters cell before it wraps onto more lines.
const PARAMS_WIDTH: usize = 48;

/// The parameters of an action, joined with ", " and wrapped at `width`.
fn param_lines(params: &[Param], width: usize) -> Vec<String> {
    if params.is_empty() {
        return vec!["-".to_owned()];
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    let count = params.len();
    for (i, p) in params.iter().enumerate() {
        let mut item = param_text(p);
        if i + 1 < count {
            item.push(',');
        }
        let extra = if line.is_empty() { 0 } else { 1 };
        if !line.is_empty() && width_of(&line) + extra + width_of(&item) > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&item);
    }
    lines.push(line);
    lines
}

fn width_of(s: &str) -> usize {
    s.chars().count()
}

fn pad(out: &mut impl Write, text_width: usize, column: usize) -> std::io::Result<()> {
    write!(out, "{:1$}", "", column.saturating_sub(text_width) + 2)
}

/// Writes the table: ACTION, PARAMETERS, DESCRIPTION (the doc's first line).
pub fn write_table(out: &mut impl Write, funcs: &[Func], color: bool) -> std::io::Result<()> {
    if funcs.is_empty() {
        return writeln!(out, "(the service lists no action)");
    }
    let cells: Vec<(&str, Vec<String>, String)> = funcs
        .iter()
        .map(|f| {
            let doc = clean_doc(&f.doc).into_iter().next().unwrap_or_default();
            (f.name.as_str(), param_lines(&f.params, PARAMS_WIDTH), doc)
        })
        .collect();
    let name_w = cells
        .iter()
        .map(|c| width_of(c.0))
        .chain([width_of("ACTION")])
        .max()
        .unwrap_or(0);
    let params_w = cells
        .iter()
        .flat_map(|c| c.1.iter().map(|l| width_of(l)))
        .chain([width_of("PARAMETERS")])
        .max()
        .unwrap_or(0);
    paint(out, color, style::BOLD, "ACTION")?;
    pad(out, 6, name_w)?;
    paint(out, color, style::BOLD, "PARAMETERS")?;
    pad(out, 10, params_w)?;
    paint(out, color, style::BOLD, "DESCRIPTION")?;
    writeln!(out)?;
    for (name, params, doc) in &cells {
        for (i, line) in params.iter().enumerate() {
            if i == 0 {
                paint(out, color, style::KEY, name)?;
                pad(out, width_of(name), name_w)?;
            } else {
                pad(out, 0, name_w)?;
            }
            out.write_all(line.as_bytes())?;
            if i == 0 && !doc.is_empty() {
                pad(out, width_of(line), params_w)?;
                out.write_all(doc.as_bytes())?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// Writes each action as `name(params)` followed by its whole doc, indented.
pub fn write_long(out: &mut impl Write, funcs: &[Func], color: bool) -> std::io::Result<()> {
    for (i, f) in funcs.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        paint(out, color, style::KEY, &f.name)?;
        let params: Vec<String> = f.params.iter().map(param_text).collect();
        writeln!(out, "({})", params.join(", "))?;
        if let Some(policy) = &f.policy {
            writeln!(out, "    [{policy}]")?;
        }
        for line in clean_doc(&f.doc) {
            if line.is_empty() {
                writeln!(out)?;
            } else {
                writeln!(out, "    {line}")?;
            }
        }
    }
    Ok(())
}

/// Runs `tpp funcs`.
pub fn run(args: FuncsArgs, runtime: &tokio::runtime::Runtime) -> Result<(), Failure> {
    let session = Session::new(&args.conn, &args.target, serde_json::Map::new())?;
    if !args.json {
        let fetched = runtime
            .block_on(crate::contract::fetch(&session))
            .map_err(|failure| no_list_funcs(failure, &args.target.to_string()))?;
        if fetched.full {
            let funcs = from_description(&fetched.description);
            let stdout = std::io::stdout();
            let color = color_for(args.color, &stdout);
            let mut out = stdout.lock();
            let written = if args.long {
                write_long(&mut out, &funcs, color)
            } else {
                write_table(&mut out, &funcs, color)
            };
            return written.and_then(|()| out.flush()).map_err(Failure::output);
        }
    }
    let empty =
        RawValue::from_string("{}".to_owned()).map_err(|e| Failure::Other(e.to_string()))?;
    let response = runtime
        .block_on(session.unary(LIST_FUNCS, &empty))
        .map_err(|failure| no_list_funcs(failure, &args.target.to_string()))?;
    let json = result_json(&response, LIST_FUNCS, false)?;
    let stdout = std::io::stdout();
    let color = color_for(args.color, &stdout);
    let mut out = stdout.lock();
    let written = if args.json {
        write_json(&mut out, &json, Layout::Pretty, color)
    } else {
        let funcs = parse(&json).map_err(|e| {
            Failure::Protocol(format!(
                "{} answered list-funcs in an unknown shape ({e}); see it with --json",
                args.target
            ))
        })?;
        if args.long {
            write_long(&mut out, &funcs, color)
        } else {
            write_table(&mut out, &funcs, color)
        }
    };
    written.and_then(|()| out.flush()).map_err(Failure::output)
}

/// The reference's answer to an action it does not have.
fn unknown_action_message() -> String {
    format!("Action {LIST_FUNCS} does not exist")
}

/// A server without `list-funcs` (toxicbuild's build server) says so in its own words;
/// say what that means.
fn no_list_funcs(failure: Failure, target: &str) -> Failure {
    match failure {
        Failure::Server {
            code: 1,
            message,
            hint: None,
        } if message == unknown_action_message() => Failure::Server {
            code: 1,
            hint: Some(format!(
                "{target} offers no list-funcs, so its actions cannot be listed; \
                 call them with `tpp call {target} ACTION`"
            )),
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const HOLE: &str = r#"{
        "repo-add": {"doc": " Adds a new repository and first_run() it. ",
                     "parameters": [{"name": "repo_name", "required": true},
                                    {"name": "repo_url", "required": true},
                                    {"name": "update_seconds", "required": true},
                                    {"name": "vcs_type", "required": true},
                                    {"name": "slaves", "required": false, "default": null}]},
        "builder-show": {"doc": "Returns information about one specific builder.\n\n        :param repo_name: The repository.\n          more\n    ",
                         "parameters": [{"name": "repo_name", "required": true},
                                        {"name": "builder_name", "required": true}]},
        "list-funcs": {"doc": "", "parameters": []},
        "echo": {"parameters": [{"name": "times", "required": false, "default": 1},
                                {"name": "sep", "required": false},
                                {"name": "vcs", "required": false, "default": "git"}]}
    }"#;

    fn table(funcs: &[Func]) -> String {
        let mut out = Vec::new();
        write_table(&mut out, funcs, false).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn parses_in_the_servers_order() {
        let funcs = parse(HOLE).unwrap();
        let names: Vec<&str> = funcs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["repo-add", "builder-show", "list-funcs", "echo"]);
        assert_eq!(funcs[0].params[4].default, Some(Value::Null));
        assert_eq!(funcs[3].params[1].default, None);
        assert_eq!(funcs[3].doc, "");
        assert!(parse("[]").is_err());
        assert!(parse(r#"{"a": {"parameters": [{"required": true}]}}"#)
            .unwrap_err()
            .contains("\"a\""));
    }

    #[test]
    fn shows_required_optional_and_defaults() {
        let funcs = parse(HOLE).unwrap();
        let texts: Vec<String> = funcs[3].params.iter().map(param_text).collect();
        assert_eq!(texts, ["[times=1]", "[sep]", "[vcs=\"git\"]"]);
        assert_eq!(param_text(&funcs[0].params[4]), "[slaves=null]");
    }

    #[test]
    fn cleans_python_docstrings() {
        assert_eq!(
            clean_doc("Returns info.\n\n        :param a: A.\n          more\n    "),
            ["Returns info.", "", ":param a: A.", "  more"]
        );
        assert_eq!(clean_doc("  one line  "), ["one line"]);
        assert!(clean_doc("").is_empty());
    }

    #[test]
    fn writes_an_aligned_table() {
        let funcs = parse(HOLE).unwrap();
        let t = table(&funcs);
        let expected = "\
ACTION        PARAMETERS                                      DESCRIPTION
repo-add      repo_name, repo_url, update_seconds, vcs_type,  Adds a new repository and first_run() it.
              [slaves=null]
builder-show  repo_name, builder_name                         Returns information about one specific builder.
list-funcs    -
echo          [times=1], [sep], [vcs=\"git\"]
";
        assert_eq!(t, expected, "\n{t}");
        assert_eq!(table(&[]), "(the service lists no action)\n");
    }

    #[test]
    fn long_form_prints_whole_docs() {
        let funcs = parse(HOLE).unwrap();
        let mut out = Vec::new();
        write_long(&mut out, &funcs[1..2], false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "builder-show(repo_name, builder_name)\n    Returns information about one specific builder.\n\n    :param repo_name: The repository.\n      more\n"
        );
    }

    #[test]
    fn long_form_shows_a_declared_policy() {
        let mut funcs = parse(HOLE).unwrap();
        let policy = tpp_rpc::describe::PolicyDescription::new(Some(5000), Some(4), true);
        funcs[3].policy = policy_text(&policy);
        assert_eq!(policy_text(&Default::default()), None);
        let mut out = Vec::new();
        write_long(&mut out, &funcs[3..4], false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "echo([times=1], [sep], [vcs=\"git\"])\n    [timeout 5000 ms, at most 4 at once, idempotent]\n"
        );
    }
}

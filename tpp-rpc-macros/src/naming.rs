//! Case conversions for `rename_all` and for the names of generated items.

/// A `rename_all` rule, applied to a method name (a Rust `snake_case` identifier) to get the
/// action's wire name. The rule names are serde's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    /// `snake_case`: the method name as written (`repo_add`).
    Snake,
    /// `kebab-case`: `repo-add` (toxicbuild's hole).
    Kebab,
    /// `camelCase`: `repoAdd`.
    Camel,
    /// `PascalCase`: `RepoAdd`.
    Pascal,
    /// `SCREAMING_SNAKE_CASE`: `REPO_ADD`.
    ScreamingSnake,
    /// `SCREAMING-KEBAB-CASE`: `REPO-ADD`.
    ScreamingKebab,
    /// `lowercase`: `repo_add` lowercased (underscores kept).
    Lower,
    /// `UPPERCASE`: `REPO_ADD` (underscores kept).
    Upper,
}

impl RenameRule {
    /// Every accepted spelling, in the order error messages list them.
    pub(crate) const VALID: &'static [(&'static str, RenameRule)] = &[
        ("snake_case", RenameRule::Snake),
        ("kebab-case", RenameRule::Kebab),
        ("camelCase", RenameRule::Camel),
        ("PascalCase", RenameRule::Pascal),
        ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
        ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
        ("lowercase", RenameRule::Lower),
        ("UPPERCASE", RenameRule::Upper),
    ];

    /// Parses a rule name as written in `rename_all = "..."`.
    pub(crate) fn from_name(name: &str) -> Option<RenameRule> {
        Self::VALID
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, rule)| *rule)
    }

    /// The accepted names, quoted and comma separated, for error messages.
    pub(crate) fn valid_list() -> String {
        Self::VALID
            .iter()
            .map(|(n, _)| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Applies the rule to a `snake_case` method name.
    pub(crate) fn apply(self, method: &str) -> String {
        let words = || method.split('_').filter(|w| !w.is_empty());
        match self {
            RenameRule::Snake => method.to_owned(),
            RenameRule::Lower => method.to_lowercase(),
            RenameRule::Upper => method.to_uppercase(),
            RenameRule::Kebab => words().map(str::to_lowercase).collect::<Vec<_>>().join("-"),
            RenameRule::ScreamingSnake => {
                words().map(str::to_uppercase).collect::<Vec<_>>().join("_")
            }
            RenameRule::ScreamingKebab => {
                words().map(str::to_uppercase).collect::<Vec<_>>().join("-")
            }
            RenameRule::Pascal => words().map(capitalize).collect(),
            RenameRule::Camel => {
                let mut out = String::new();
                for (i, word) in words().enumerate() {
                    if i == 0 {
                        out.push_str(&word.to_lowercase());
                    } else {
                        out.push_str(&capitalize(word));
                    }
                }
                out
            }
        }
    }
}

/// `repo` -> `Repo`; the rest of the word is lowercased.
fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// `BuildServer` -> `BUILD_SERVER`, `HTTPRepos` -> `HTTP_REPOS`: the name of the generated
/// `<TRAIT>_ACTIONS` constant.
pub(crate) fn screaming_snake_from_pascal(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 && !out.ends_with('_') {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower)
            {
                out.push('_');
            }
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// `r#type` -> `type`: the name serde and the wire use for an identifier.
pub(crate) fn unraw(ident: &syn::Ident) -> String {
    let s = ident.to_string();
    match s.strip_prefix("r#") {
        Some(rest) => rest.to_owned(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule() {
        let cases = [
            ("snake_case", "repo_add_slave", "repo_add_slave"),
            ("kebab-case", "repo_add_slave", "repo-add-slave"),
            ("camelCase", "repo_add_slave", "repoAddSlave"),
            ("PascalCase", "repo_add_slave", "RepoAddSlave"),
            ("SCREAMING_SNAKE_CASE", "repo_add_slave", "REPO_ADD_SLAVE"),
            ("SCREAMING-KEBAB-CASE", "repo_add_slave", "REPO-ADD-SLAVE"),
            ("lowercase", "repo_add_slave", "repo_add_slave"),
            ("UPPERCASE", "repo_add_slave", "REPO_ADD_SLAVE"),
        ];
        for (rule, input, expected) in cases {
            let rule = RenameRule::from_name(rule).expect(rule);
            assert_eq!(rule.apply(input), expected, "{rule:?}");
        }
    }

    #[test]
    fn single_word_and_digits() {
        assert_eq!(RenameRule::Kebab.apply("healthcheck"), "healthcheck");
        assert_eq!(RenameRule::Camel.apply("healthcheck"), "healthcheck");
        assert_eq!(RenameRule::Pascal.apply("healthcheck"), "Healthcheck");
        assert_eq!(RenameRule::Kebab.apply("get_v2_info"), "get-v2-info");
        assert_eq!(RenameRule::Camel.apply("get_v2_info"), "getV2Info");
    }

    #[test]
    fn leading_and_doubled_underscores() {
        // A leading underscore or a doubled one never makes an empty word.
        assert_eq!(RenameRule::Kebab.apply("_private__thing"), "private-thing");
        assert_eq!(RenameRule::Camel.apply("_private__thing"), "privateThing");
        // snake_case keeps the method name exactly.
        assert_eq!(
            RenameRule::Snake.apply("_private__thing"),
            "_private__thing"
        );
    }

    #[test]
    fn unknown_rule() {
        assert_eq!(RenameRule::from_name("kebab_case"), None);
        assert_eq!(RenameRule::from_name("Kebab-Case"), None);
        assert!(RenameRule::valid_list().contains("\"kebab-case\""));
    }

    #[test]
    fn trait_names_to_constants() {
        assert_eq!(screaming_snake_from_pascal("Repos"), "REPOS");
        assert_eq!(screaming_snake_from_pascal("BuildServer"), "BUILD_SERVER");
        assert_eq!(screaming_snake_from_pascal("HTTPRepos"), "HTTP_REPOS");
        assert_eq!(screaming_snake_from_pascal("Repos2Api"), "REPOS2_API");
        assert_eq!(screaming_snake_from_pascal("my_service"), "MY_SERVICE");
    }

    #[test]
    fn raw_identifiers() {
        let ident: syn::Ident = syn::parse_str("r#type").unwrap();
        assert_eq!(unraw(&ident), "type");
        let ident: syn::Ident = syn::parse_str("repo_name").unwrap();
        assert_eq!(unraw(&ident), "repo_name");
    }
}

//! The `target/engines/env` file: `export K='V'` lines that a POSIX shell can
//! source, and that the xtask reads back to set the tests' environment.

/// Quotes `value` for a POSIX shell: single quotes, with each `'` written as
/// `'\''`.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Renders `vars` as `export K='V'` lines, after a comment line.
pub fn render(vars: &[(String, String)]) -> String {
    let mut out = String::from(
        "# Real-engine test environment written by `cargo xtask engine up`.\n\
         # Source it (`. target/engines/env`) to point tests or the docker CLI at the engines.\n",
    );
    for (key, value) in vars {
        out.push_str(&format!("export {key}={}\n", quote(value)));
    }
    out
}

/// Parses what [`render`] writes: `[export ]K=V` lines where V is made of
/// single-quoted runs, backslash-escaped characters and plain characters.
/// Blank lines and `#` comments are skipped.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, raw) = line
            .split_once('=')
            .ok_or_else(|| format!("env line {}: no `=`", number + 1))?;
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("env line {}: bad name `{key}`", number + 1));
        }
        vars.push((
            key.to_string(),
            unquote(raw).map_err(|e| format!("env line {}: {e}", number + 1))?,
        ));
    }
    Ok(vars)
}

/// Undoes shell quoting of one word (single quotes and backslashes only).
fn unquote(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(inner) => out.push(inner),
                    None => return Err("unterminated single quote".into()),
                }
            },
            '\\' => out.push(chars.next().ok_or("trailing backslash")?),
            c if c.is_whitespace() => return Err("unquoted whitespace".into()),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_awkward_values() {
        let vars = vec![
            (
                "A".to_string(),
                r#"p@ss: "dq" 'sq' \bs\ $HOME %s {x} `y`"#.to_string(),
            ),
            ("B".to_string(), String::new()),
            (
                "C".to_string(),
                "unix:///w/t/engines/a/docker.sock".to_string(),
            ),
            ("D".to_string(), "'".to_string()),
        ];
        let text = render(&vars);
        assert_eq!(parse(&text).expect("parses"), vars);
    }

    #[test]
    fn shell_agrees_with_quoting() {
        let value = r#"p@ss: "dq" 'sq' \bs\ $HOME %s {x} `y`"#;
        let script = format!(
            "{}\nprintf %s \"$V\"",
            render(&[("V".into(), value.into())])
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), value);
    }

    #[test]
    fn rejects_broken_lines() {
        assert!(parse("export X='open").is_err());
        assert!(parse("novalue").is_err());
        assert!(parse("BAD-NAME=1").is_err());
        assert_eq!(
            parse("X=a\\ b").expect("parses"),
            vec![("X".into(), "a b".into())]
        );
    }
}

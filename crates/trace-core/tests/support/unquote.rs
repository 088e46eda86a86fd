//! Go string-literal unquoting with the semantics of `strconv.Unquote`.
//!
//! The result is bytes, not a `String`: `\xNN` and three-digit octal
//! escapes produce single raw bytes that need not form valid UTF-8.

/// Unquotes a Go string literal: `"..."` with escapes, `` `...` `` raw, or a
/// one-character `'...'` literal. Errors name what is wrong.
pub fn go_unquote(lit: &str) -> Result<Vec<u8>, String> {
    let err = |why: &str| Err(format!("invalid Go string literal {lit:?}: {why}"));
    let bytes = lit.as_bytes();
    if bytes.len() < 2 {
        return err("too short");
    }
    let quote = bytes[0];
    if bytes[bytes.len() - 1] != quote {
        return err("opening and closing quotes differ");
    }
    let body = &lit[1..lit.len() - 1];
    match quote {
        b'`' => {
            if body.contains('`') {
                return err("backquote inside a raw string");
            }
            // Raw strings drop carriage returns, nothing else.
            Ok(body.bytes().filter(|&b| b != b'\r').collect())
        }
        b'"' | b'\'' => {
            let mut out = Vec::with_capacity(body.len());
            let mut rest = body;
            while !rest.is_empty() {
                if rest.starts_with('\n') {
                    return err("newline inside a quoted string");
                }
                rest = match unquote_char(rest, quote, &mut out) {
                    Ok(tail) => tail,
                    Err(why) => return err(&why),
                };
                // A character literal holds exactly one character.
                if quote == b'\'' && !rest.is_empty() {
                    return err("more than one character in a character literal");
                }
            }
            Ok(out)
        }
        _ => err("not a quote character"),
    }
}

/// Decodes one character or escape at the start of `s`, appends its bytes
/// to `out` and returns what follows it.
fn unquote_char<'s>(s: &'s str, quote: u8, out: &mut Vec<u8>) -> Result<&'s str, String> {
    let mut chars = s.chars();
    let Some(c) = chars.next() else {
        return Err("unexpected end".into());
    };
    if c == quote as char {
        return Err(format!("unescaped {c} inside the literal"));
    }
    if c != '\\' {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        return Ok(chars.as_str());
    }
    let Some(esc) = chars.next() else {
        return Err("lone backslash at the end".into());
    };
    let rest = chars.as_str();
    let simple = match esc {
        'a' => Some(0x07),
        'b' => Some(0x08),
        'f' => Some(0x0c),
        'n' => Some(b'\n'),
        'r' => Some(b'\r'),
        't' => Some(b'\t'),
        'v' => Some(0x0b),
        '\\' => Some(b'\\'),
        '\'' | '"' if esc as u32 == u32::from(quote) => Some(esc as u8),
        '\'' | '"' => {
            return Err(format!("\\{esc} is not allowed inside {}...{}", quote as char, quote as char));
        }
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return Ok(rest);
    }
    match esc {
        'x' | 'u' | 'U' => {
            let n = match esc {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n).filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
            let Some(digits) = digits else {
                return Err(format!("\\{esc} needs {n} hex digits"));
            };
            let v = u32::from_str_radix(digits, 16).map_err(|e| e.to_string())?;
            if esc == 'x' {
                // A single byte, whether or not it is valid UTF-8.
                out.push(v as u8);
            } else {
                let Some(ch) = char::from_u32(v) else {
                    return Err(format!("\\{esc}{digits} is not a valid Unicode scalar value"));
                };
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            Ok(&rest[n..])
        }
        '0'..='7' => {
            let digits = rest.get(..2).filter(|d| d.bytes().all(|b| (b'0'..=b'7').contains(&b)));
            let Some(digits) = digits else {
                return Err("octal escape needs three octal digits".into());
            };
            let v = (esc as u32 - '0' as u32) * 64 + u32::from_str_radix(digits, 8).map_err(|e| e.to_string())?;
            let Ok(b) = u8::try_from(v) else {
                return Err(format!("octal escape \\{esc}{digits} is above 255"));
            };
            out.push(b);
            Ok(&rest[2..])
        }
        _ => Err(format!("unknown escape \\{esc}")),
    }
}

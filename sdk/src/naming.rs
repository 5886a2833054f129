//! Account-name rules operators use most, checked against the target.
//!
//! - [`account_name`]: `sAMAccountName` = the first 19 characters of the
//!   last name + the first letter of the first name (`smithw`); when that
//!   is taken, 18 characters + the first letter + a counter (`smithw2`,
//!   `smithw3`, …; fewer characters of the last name once the counter has
//!   two digits, so the name stays within AD's 20).
//! - [`email`]: `first.last@domain`, then `first.last2@domain`, … when
//!   taken.
//!
//! Names are folded to lower-case ASCII letters and digits: accents are
//! dropped (`José` → `jose`, `Müller` → `muller`, `ß` → `ss`) and spaces,
//! apostrophes and hyphens removed (`O'Brien-Smith` → `obriensmith`).

use crate::Error;

/// sAMAccountName's length limit.
pub const MAX_ACCOUNT_NAME: usize = 20;
/// Counters tried before giving up.
const MAX_COUNTER: u32 = 9999;

/// `text` folded to lower-case ASCII letters and digits.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => out.push('a'),
            'æ' => out.push_str("ae"),
            'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' => out.push('c'),
            'ď' | 'đ' | 'ð' => out.push('d'),
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => out.push('e'),
            'ğ' | 'ĝ' | 'ġ' | 'ģ' => out.push('g'),
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => out.push('i'),
            'ķ' => out.push('k'),
            'ł' | 'ľ' | 'ĺ' | 'ļ' => out.push('l'),
            'ñ' | 'ń' | 'ň' | 'ņ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => out.push('o'),
            'œ' => out.push_str("oe"),
            'ř' | 'ŕ' => out.push('r'),
            'ś' | 'š' | 'ş' | 'ș' => out.push('s'),
            'ß' => out.push_str("ss"),
            'ť' | 'ţ' | 'ț' => out.push('t'),
            'þ' => out.push_str("th"),
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'ź' | 'ż' | 'ž' => out.push('z'),
            _ => {}
        }
    }
    out
}

fn prefix(text: &str, chars: usize) -> &str {
    // Folded text is ASCII: bytes are characters.
    &text[..chars.min(text.len())]
}

/// The first candidate account name, and the one for `counter` (2, 3, …).
pub fn account_name_candidate(first: &str, last: &str, counter: Option<u32>) -> String {
    let (first, last) = (fold(first), fold(last));
    let initial = prefix(&first, 1);
    match counter {
        None => format!("{}{initial}", prefix(&last, MAX_ACCOUNT_NAME - 1)),
        Some(n) => {
            let digits = n.to_string();
            // 18 characters with a one-digit counter; fewer with more digits.
            let room = (MAX_ACCOUNT_NAME - 1 - digits.len()).min(18);
            format!("{}{initial}{digits}", prefix(&last, room))
        }
    }
}

/// The first free account name by the rule above; `taken` asks the target.
pub fn account_name(
    first: &str,
    last: &str,
    mut taken: impl FnMut(&str) -> Result<bool, Error>,
) -> Result<String, Error> {
    let base = account_name_candidate(first, last, None);
    if fold(last).is_empty() || fold(first).is_empty() {
        return Err(Error::invalid(format!(
            "an account name needs a first and a last name with letters (got {first:?}, {last:?})"
        )));
    }
    if !taken(&base)? {
        return Ok(base);
    }
    for n in 2..=MAX_COUNTER {
        let candidate = account_name_candidate(first, last, Some(n));
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
    Err(Error::failed(format!(
        "every account name for {first} {last} up to counter {MAX_COUNTER} is taken"
    )))
}

/// The first free address `first.last@domain`, `first.last2@domain`, ….
pub fn email(
    first: &str,
    last: &str,
    domain: &str,
    mut taken: impl FnMut(&str) -> Result<bool, Error>,
) -> Result<String, Error> {
    let (f, l) = (fold(first), fold(last));
    if f.is_empty() || l.is_empty() {
        return Err(Error::invalid(format!(
            "an address needs a first and a last name with letters (got {first:?}, {last:?})"
        )));
    }
    let base = format!("{f}.{l}@{domain}");
    if !taken(&base)? {
        return Ok(base);
    }
    for n in 2..=MAX_COUNTER {
        let candidate = format!("{f}.{l}{n}@{domain}");
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
    Err(Error::failed(format!(
        "every address for {first} {last} at {domain} up to counter {MAX_COUNTER} is taken"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_names_to_ascii() {
        assert_eq!(fold("José Müller-O'Brien"), "josemullerobrien");
        assert_eq!(fold("Straße"), "strasse");
    }

    #[test]
    fn the_rule_and_its_counters() {
        assert_eq!(account_name_candidate("Will", "Smith", None), "smithw");
        assert_eq!(account_name_candidate("Will", "Smith", Some(2)), "smithw2");
        let long = "Wolfeschlegelsteinhausenbergerdorff";
        assert_eq!(
            account_name_candidate("Hubert", long, None),
            "wolfeschlegelsteinhh"
        );
        assert_eq!(account_name_candidate("Hubert", long, None).len(), 20);
        assert_eq!(
            account_name_candidate("Hubert", long, Some(2)),
            "wolfeschlegelsteinh2"
        );
        assert_eq!(
            account_name_candidate("Hubert", long, Some(10)),
            "wolfeschlegelsteih10"
        );
        let taken = ["smithw", "smithw2"];
        let name = account_name("Will", "Smith", |n| Ok(taken.contains(&n))).unwrap();
        assert_eq!(name, "smithw3");
        let mail = email("Will", "Smith", "example.test", |m| {
            Ok(m == "will.smith@example.test")
        })
        .unwrap();
        assert_eq!(mail, "will.smith2@example.test");
        assert!(account_name("", "Smith", |_| Ok(false)).is_err());
    }
}

//! objectGUID: 16 bytes on the wire, shown as Windows shows a GUID (the
//! first three fields little-endian).

const ORDER: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];

/// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` without braces, lower-case.
pub fn format(bytes: &[u8]) -> Option<String> {
    if bytes.len() != 16 {
        return None;
    }
    let mut out = String::with_capacity(36);
    for (i, &at) in ORDER.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{:02x}", bytes[at]));
    }
    Some(out)
}

/// The wire bytes of a GUID string, or None when it is not one.
pub fn parse(text: &str) -> Option<[u8; 16]> {
    let hex: String = text
        .trim_matches(|c| c == '{' || c == '}')
        .chars()
        .filter(|c| *c != '-')
        .collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, &at) in ORDER.iter().enumerate() {
        bytes[at] = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_in_windows_order() {
        // objectGUID:: j1/Fa7itlEuIwubVgPqk5A== is 6bc55f8f-ad b8-4b94-88c2-e6d580faa4e4.
        let bytes = [
            0x8f, 0x5f, 0xc5, 0x6b, 0xb8, 0xad, 0x94, 0x4b, 0x88, 0xc2, 0xe6, 0xd5, 0x80, 0xfa,
            0xa4, 0xe4,
        ];
        let text = super::format(&bytes).unwrap();
        assert_eq!(text, "6bc55f8f-adb8-4b94-88c2-e6d580faa4e4");
        assert_eq!(super::parse(&text), Some(bytes));
        assert_eq!(
            super::parse(&format!("{{{}}}", text.to_uppercase())),
            Some(bytes)
        );
        assert_eq!(super::parse("not-a-guid"), None);
    }
}

//! objectGUID: 16 bytes on the wire, shown as Windows shows a GUID (the
//! first three fields little-endian, as `uuid`'s `_le` conversions do).

use uuid::Uuid;

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower-case, without braces.
pub fn format(bytes: &[u8]) -> Option<String> {
    let bytes: [u8; 16] = bytes.try_into().ok()?;
    Some(Uuid::from_bytes_le(bytes).hyphenated().to_string())
}

/// The wire bytes of a GUID string (braces and case as Windows may write
/// them), or None when it is not one.
pub fn parse(text: &str) -> Option<[u8; 16]> {
    Uuid::try_parse(text).ok().map(|u| u.to_bytes_le())
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_in_windows_order() {
        // objectGUID:: j1/Fa7itlEuIwubVgPqk5A== is 6bc55f8f-adb8-4b94-88c2-e6d580faa4e4.
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
        assert_eq!(super::format(&bytes[..15]), None);
    }
}

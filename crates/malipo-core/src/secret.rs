use std::fmt;

/// What a [`Secret`] prints instead of its value, everywhere.
pub const REDACTED: &str = "[REDACTED]";

/// A value that must never reach a log, an error message, a `Debug` dump or a serialised document.
///
/// `Debug`, `Display` and `Serialize` all print [`REDACTED`]; the only way to read the value is the
/// explicit [`Secret::expose`], which makes every use greppable. There is deliberately no
/// `Deserialize`: configuration reads secret *references* and resolves them into `Secret`s.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value so it cannot be printed by accident.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// Reads the secret value. Every call site is a place where the secret leaves the wrapper.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret value.
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> serde::Serialize for Secret<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printer_redacts() {
        let s = Secret::new("hunter2-fake".to_string());
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s:#?}"), REDACTED);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[REDACTED]\"");
        assert_eq!(s.expose(), "hunter2-fake");
    }

    #[test]
    fn nested_in_a_derived_debug_struct_stays_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Creds {
            user: String,
            password: Secret<String>,
        }
        let c = Creds {
            user: "api".into(),
            password: Secret::new("p@ss-fake".into()),
        };
        let printed = format!("{c:?}");
        assert!(!printed.contains("p@ss-fake"), "{printed}");
        assert!(printed.contains(REDACTED));
    }
}

//! Reading the `Cookie` header and writing `Set-Cookie` values.

use axum::http::{header, HeaderMap};

/// The value of cookie `name`, if the request sent it.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// How a cookie is set.
#[derive(Clone, Copy, Debug)]
pub struct CookieOptions {
    /// Only over TLS.
    pub secure: bool,
    /// Not readable by scripts.
    pub http_only: bool,
    /// Seconds to keep it (`None`: until the browser closes; `Some(0)`: remove it now).
    pub max_age: Option<u64>,
}

/// A `Set-Cookie` value: path `/`, `SameSite=Strict`, and `options`.
pub fn set(name: &str, value: &str, options: CookieOptions) -> String {
    let mut cookie = format!("{name}={value}; Path=/; SameSite=Strict");
    if options.http_only {
        cookie.push_str("; HttpOnly");
    }
    if options.secure {
        cookie.push_str("; Secure");
    }
    if let Some(age) = options.max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_found_by_exact_name_across_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("simpul_sesi_x=1; a=2"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("simpul_sesi=abc"));
        assert_eq!(get(&headers, "simpul_sesi"), Some("abc"));
        assert_eq!(get(&headers, "a"), Some("2"));
        assert_eq!(get(&headers, "b"), None);
    }

    #[test]
    fn set_cookie_carries_the_flags_asked_for() {
        let options = CookieOptions {
            secure: true,
            http_only: true,
            max_age: Some(0),
        };
        assert_eq!(
            set("simpul_sesi", "", options),
            "simpul_sesi=; Path=/; SameSite=Strict; HttpOnly; Secure; Max-Age=0"
        );
    }
}

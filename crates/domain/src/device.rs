//! A short, readable name for the device behind a session ("Chrome 131 on macOS"), read from the
//! user agent once at login, so an admin can tell a member's sessions apart without reading raw
//! user-agent strings, and a session stores a few bytes instead of a few hundred.

/// The longest device description kept.
pub const MAX_DEVICE_CHARS: usize = 48;

/// Browser and system from a `User-Agent` header; `None` when neither is recognized.
pub fn describe_user_agent(user_agent: &str) -> Option<String> {
    let browser = browser(user_agent);
    let system = system(user_agent);
    let text = match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser,
        (None, Some(system)) => system.to_owned(),
        (None, None) => return None,
    };
    Some(text.chars().take(MAX_DEVICE_CHARS).collect())
}

/// The major version following `token` (`Chrome/131.0.1` → `131`).
fn major_after(user_agent: &str, token: &str) -> Option<String> {
    let rest = &user_agent[user_agent.find(token)? + token.len()..];
    let major: String = rest.chars().take_while(char::is_ascii_digit).take(5).collect();
    (!major.is_empty()).then_some(major)
}

fn browser(ua: &str) -> Option<String> {
    // Order matters: Edge and Opera also claim Chrome, Chrome also claims Safari, and headless
    // Chromium names itself.
    const BROWSERS: [(&str, &str); 8] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("keyward-cli/", "Keyward CLI"),
        ("curl/", "curl"),
    ];
    for (token, name) in BROWSERS {
        if let Some(major) = major_after(ua, token) {
            return Some(format!("{name} {major}"));
        }
    }
    if ua.contains("Safari/") {
        return Some(major_after(ua, "Version/").map_or_else(|| "Safari".to_owned(), |v| format!("Safari {v}")));
    }
    None
}

fn system(ua: &str) -> Option<&'static str> {
    const SYSTEMS: [(&str, &str); 8] = [
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ];
    SYSTEMS.into_iter().find(|(token, _)| ua.contains(token)).map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_browsers_are_named_with_their_system() {
        let cases = [
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome 131 on macOS",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68",
                "Edge 130 on Windows",
            ),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox 133 on Linux"),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari 18 on iOS",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
                "Headless Chrome 156 on Linux",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome 131 on Android",
            ),
            ("keyward-cli/0.1.0", "Keyward CLI 0"),
            ("curl/8.5.0", "curl 8"),
        ];
        for (ua, expected) in cases {
            assert_eq!(describe_user_agent(ua).as_deref(), Some(expected), "{ua}");
        }
    }

    #[test]
    fn unknown_agents_give_nothing_and_long_ones_are_cut() {
        assert_eq!(describe_user_agent(""), None);
        assert_eq!(describe_user_agent("python-requests/2.32"), None);
        assert_eq!(describe_user_agent("Chrome/"), None, "a token without a version names nothing");
        let hostile = format!("Chrome/{} (Linux)", "9".repeat(500));
        let described = describe_user_agent(&hostile).unwrap();
        assert!(described.chars().count() <= MAX_DEVICE_CHARS, "{described}");
        assert_eq!(described, "Chrome 99999 on Linux");
    }
}

//! What the person at the terminal sees while a hand-off waits for the browser.

use std::io::{IsTerminal, Write};

use super::api::{HandoffRequest, HandoffStarted};

/// Shows a hand-off to the person who approves it. Tests use their own to pass the hand-off
/// to a simulated browser.
pub trait Prompt: Send {
    /// The hand-off was created: tell the person where to approve it.
    fn handoff_started(&mut self, request: &HandoffRequest, started: &HandoffStarted);
    /// Waiting ended (approved, or not).
    fn handoff_finished(&mut self, approved: bool);
}

/// Writes to stderr (stdout carries only results: JSON, a JWT), with a QR code of the URL when
/// stderr is a terminal someone can point a phone at.
pub struct TerminalPrompt {
    qr: bool,
}

impl TerminalPrompt {
    /// A prompt on stderr; QR codes only on a terminal.
    pub fn new() -> Self {
        Self { qr: std::io::stderr().is_terminal() }
    }
}

impl Default for TerminalPrompt {
    fn default() -> Self {
        Self::new()
    }
}

/// The lines shown for a hand-off.
pub fn instructions(request: &HandoffRequest, started: &HandoffStarted) -> String {
    let what = match request {
        HandoffRequest::Login => "To log this terminal in, open this page and touch your security key:".to_owned(),
        HandoffRequest::StepUp { action, resource, .. } => format!(
            "{action} on {} needs a fresh security-key check. Open this page and touch your key:",
            resource.as_deref().unwrap_or("any resource")
        ),
    };
    let minutes = started.expires_in.div_ceil(60);
    format!(
        "{what}\n\n    {}\n\nCheck that the page shows the code {} before you approve. Waiting (up to {minutes} min)...\n",
        started.verification_url, started.user_code
    )
}

/// The URL as a QR code of Unicode half blocks (two modules per character), with its quiet zone.
pub fn qr_code(url: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).build())
}

impl Prompt for TerminalPrompt {
    fn handoff_started(&mut self, request: &HandoffRequest, started: &HandoffStarted) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{}", instructions(request, started));
        if self.qr
            && let Some(qr) = qr_code(&started.verification_url)
        {
            let _ = writeln!(err, "\n{qr}");
        }
    }

    fn handoff_finished(&mut self, approved: bool) {
        if approved {
            eprintln!("Approved.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started() -> HandoffStarted {
        HandoffStarted {
            id: "1".into(),
            user_code: "BCDF-GHJK".into(),
            verification_url: "http://localhost:8080/step-up?action=cli.login".into(),
            poll_secret: "s".into(),
            expires_in: 600,
            interval: 2,
        }
    }

    #[test]
    fn instructions_name_the_url_the_code_and_the_action() {
        let login = instructions(&HandoffRequest::Login, &started());
        assert!(login.contains("http://localhost:8080/step-up?action=cli.login"));
        assert!(login.contains("BCDF-GHJK") && login.contains("10 min"));
        let step_up = HandoffRequest::StepUp { action: "security_key.delete".into(), resource: None, token: true };
        assert!(instructions(&step_up, &started()).starts_with("security_key.delete on any resource"));
    }

    #[test]
    fn qr_codes_are_text_blocks() {
        let qr = qr_code("http://localhost:8080/step-up?action=cli.login&handoff=x").unwrap();
        let lines: Vec<&str> = qr.lines().collect();
        assert!(lines.len() > 10);
        assert!(lines.iter().all(|l| l.chars().count() == lines[0].chars().count()), "a square block");
        assert!(qr.chars().all(|c| matches!(c, ' ' | '█' | '▀' | '▄' | '\n')), "{qr}");
    }
}

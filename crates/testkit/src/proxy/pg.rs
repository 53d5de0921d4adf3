//! Counts the statements a PostgreSQL client sends in the clear (`sslmode=disable`): each
//! `Execute` of the extended protocol and each simple `Query`. Preparing a statement, binding it
//! and the `Sync` health checks are not statements, so a count does not depend on which pooled
//! connection had the statement prepared already.

/// Reads PostgreSQL frontend messages out of a client's byte stream, across reads.
#[derive(Default)]
pub(super) struct StatementReader {
    /// The startup phase is over (messages have a type byte from then on).
    started: bool,
    /// Bytes of the current message's header seen so far.
    header: Vec<u8>,
    /// Bytes of the current message's body still to skip.
    skip: usize,
    /// The stream is TLS, or nothing this reader understands.
    gave_up: bool,
}

/// The first byte of a TLS handshake record: the client encrypts from here on.
const TLS_HANDSHAKE: u8 = 0x16;

/// `SSLRequest` and `GSSENCRequest` codes: the client asks for encryption before its startup.
const ENCRYPTION_REQUESTS: [u32; 2] = [80_877_103, 80_877_104];

impl StatementReader {
    /// Statements that begin in `bytes`.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> usize {
        let mut statements = 0;
        while !bytes.is_empty() && !self.gave_up {
            if !self.started && self.header.is_empty() && bytes[0] == TLS_HANDSHAKE {
                self.gave_up = true;
                break;
            }
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            // Startup messages have no type byte: a length and a code, 8 bytes of header.
            let header_len = if self.started { 5 } else { 8 };
            let n = (header_len - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() < header_len {
                break;
            }
            let at = usize::from(self.started);
            let len =
                u32::from_be_bytes([self.header[at], self.header[at + 1], self.header[at + 2], self.header[at + 3]]);
            let Some(body) = (len as usize).checked_sub(header_len - at) else {
                self.gave_up = true;
                break;
            };
            if self.started {
                statements += usize::from(matches!(self.header[0], b'E' | b'Q'));
            } else {
                let code = u32::from_be_bytes([self.header[4], self.header[5], self.header[6], self.header[7]]);
                // After an encryption request the server's answer decides; a TLS stream is opaque.
                self.started = !ENCRYPTION_REQUESTS.contains(&code);
            }
            self.skip = body;
            self.header.clear();
        }
        statements
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn counts_executes_and_queries_across_reads_after_the_startup() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&8u32.to_be_bytes());
        stream.extend_from_slice(&ENCRYPTION_REQUESTS[0].to_be_bytes());
        stream.extend_from_slice(&12u32.to_be_bytes());
        stream.extend_from_slice(&196_608u32.to_be_bytes());
        stream.extend_from_slice(b"x\0\0\0");
        for part in [message(b'P', b"SELECT 1\0"), message(b'B', &[0; 10]), message(b'E', &[0; 5]), message(b'S', &[])]
        {
            stream.extend(part);
        }
        stream.extend(message(b'Q', b"BEGIN\0"));
        stream.extend(message(b'S', &[]));
        let mut reader = StatementReader::default();
        let counted: usize = stream.chunks(3).map(|chunk| reader.feed(chunk)).sum();
        assert_eq!(counted, 2);
        assert_eq!(StatementReader::default().feed(&message(b'S', &[])), 0, "a lone Sync is no statement");
    }

    #[test]
    fn an_encrypted_stream_counts_nothing() {
        let mut reader = StatementReader::default();
        let mut stream = Vec::new();
        stream.extend_from_slice(&8u32.to_be_bytes());
        stream.extend_from_slice(&ENCRYPTION_REQUESTS[0].to_be_bytes());
        stream.extend_from_slice(&[TLS_HANDSHAKE, 3, 1, 0, 5]);
        stream.extend(message(b'E', &[0; 5]));
        assert_eq!(reader.feed(&stream), 0);
    }
}

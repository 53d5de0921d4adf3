//! A GraphQL subscription over WebSocket, protocol `graphql-transport-ws`: the socket opens with
//! the API key in `connection_init`, subscribes once, and hands each `next` payload to the waiter
//! through a channel that closes when the socket does.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use url::Url;

use super::CliError;

/// The subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// Longest the socket may take to open and acknowledge the connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The one subscription's ID.
const SUBSCRIPTION_ID: &str = "1";

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// One message from the server, as the protocol names it.
#[derive(Debug)]
pub enum ServerMessage {
    /// `connection_ack`.
    Ack,
    /// `ping` (answered with a `pong`).
    Ping,
    /// `pong`, or anything else to ignore.
    Ignore,
    /// `next`: the payload (`{data, errors}`).
    Next(Value),
    /// `error`: the subscription was refused; the first error.
    Error(CliError),
    /// `complete`, or the socket closed.
    Complete,
}

/// Reads one text frame of the protocol.
pub fn parse(text: &str) -> ServerMessage {
    let Ok(message) = serde_json::from_str::<Value>(text) else { return ServerMessage::Ignore };
    match message["type"].as_str() {
        Some("connection_ack") => ServerMessage::Ack,
        Some("ping") => ServerMessage::Ping,
        Some("next") => ServerMessage::Next(message["payload"].clone()),
        Some("error") => {
            let first = &message["payload"][0];
            ServerMessage::Error(CliError::Graphql {
                code: first["extensions"]["code"].as_str().unwrap_or("UNKNOWN").to_owned(),
                message: first["message"].as_str().unwrap_or("the subscription was refused").to_owned(),
            })
        }
        Some("complete") => ServerMessage::Complete,
        _ => ServerMessage::Ignore,
    }
}

/// TLS for `wss://`: the same web PKI roots as the HTTP client.
fn tls() -> Result<Connector, CliError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::Transport(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Connector::Rustls(Arc::new(config)))
}

fn transport(what: &str) -> impl Fn(tokio_tungstenite::tungstenite::Error) -> CliError + '_ {
    move |err| CliError::Transport(format!("{what}: {err}"))
}

async fn read(socket: &mut Socket) -> ServerMessage {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return parse(text.as_str()),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return ServerMessage::Complete,
            Some(Ok(_)) => continue,
        }
    }
}

async fn send(socket: &mut Socket, message: Value) -> Result<(), CliError> {
    socket.send(Message::text(message.to_string())).await.map_err(transport("the subscription socket"))
}

/// Opens the socket at `url`, authenticates with `bearer`, and subscribes to `query`. The
/// receiver yields each payload, or the error that ended the subscription; it closes when the
/// socket does. `Err` when the socket cannot be opened or the connection is not acknowledged.
pub async fn subscribe(
    url: &Url,
    bearer: &str,
    query: &str,
    variables: Value,
) -> Result<mpsc::Receiver<Result<Value, CliError>>, CliError> {
    let mut request = url.as_str().into_client_request().map_err(transport("the subscription URL"))?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(PROTOCOL));
    let open = async {
        let (mut socket, _) = tokio_tungstenite::connect_async_tls_with_config(request, None, true, Some(tls()?))
            .await
            .map_err(transport("opening the subscription socket"))?;
        let init = json!({ "Authorization": format!("Bearer {bearer}") });
        send(&mut socket, json!({ "type": "connection_init", "payload": init })).await?;
        loop {
            match read(&mut socket).await {
                ServerMessage::Ack => break,
                ServerMessage::Ping => send(&mut socket, json!({ "type": "pong" })).await?,
                ServerMessage::Ignore | ServerMessage::Next(_) => {}
                ServerMessage::Error(err) => return Err(err),
                ServerMessage::Complete => {
                    return Err(CliError::Transport("the server closed the subscription socket".into()));
                }
            }
        }
        let subscribe = json!({ "query": query, "variables": variables });
        send(&mut socket, json!({ "id": SUBSCRIPTION_ID, "type": "subscribe", "payload": subscribe })).await?;
        Ok::<_, CliError>(socket)
    };
    let mut socket = tokio::time::timeout(HANDSHAKE_TIMEOUT, open)
        .await
        .map_err(|_| CliError::Transport("the subscription socket did not open in time".into()))??;
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                message = read(&mut socket) => message,
                () = tx.closed() => break,
            };
            let sent = match message {
                ServerMessage::Next(payload) => tx.send(Ok(payload)).await,
                ServerMessage::Ping => match send(&mut socket, json!({ "type": "pong" })).await {
                    Ok(()) => Ok(()),
                    Err(_) => break,
                },
                ServerMessage::Error(err) => {
                    let _ = tx.send(Err(err)).await;
                    break;
                }
                ServerMessage::Complete => break,
                ServerMessage::Ack | ServerMessage::Ignore => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
        let _ = socket.close(None).await;
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_messages_are_read() {
        assert!(matches!(parse(r#"{"type":"connection_ack"}"#), ServerMessage::Ack));
        assert!(matches!(parse(r#"{"type":"ping","payload":{}}"#), ServerMessage::Ping));
        assert!(matches!(parse(r#"{"type":"pong"}"#), ServerMessage::Ignore));
        assert!(matches!(parse("not json"), ServerMessage::Ignore));
        let next = parse(r#"{"id":"1","type":"next","payload":{"data":{"x":1}}}"#);
        assert!(matches!(next, ServerMessage::Next(payload) if payload == json!({ "data": { "x": 1 } })));
        assert!(matches!(parse(r#"{"id":"1","type":"complete"}"#), ServerMessage::Complete));
        let error =
            parse(r#"{"id":"1","type":"error","payload":[{"message":"no","extensions":{"code":"FORBIDDEN"}}]}"#);
        assert!(matches!(error, ServerMessage::Error(err) if err.code() == Some("FORBIDDEN")));
    }

    #[tokio::test]
    async fn a_closed_port_is_an_error_not_a_hang() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("ws://{}/graphql/ws", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        assert!(subscribe(&url, "kwk_x", "subscription { x }", json!({})).await.is_err());
    }

    #[test]
    fn tls_is_configured_with_roots() {
        assert!(matches!(tls(), Ok(Connector::Rustls(_))));
    }
}

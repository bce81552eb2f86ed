//! A tool result from a server as the model sees it: text content as text,
//! everything else (images, audio, binary resources, links) as one line
//! saying what it was, since GLM reads text only.

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

/// The result's content as one text, and whether the server flagged it as
/// an error (`isError`).
pub fn result_text(result: &CallToolResult) -> (String, bool) {
    let mut parts: Vec<String> = result.content.iter().map(block_text).collect();
    if parts.is_empty()
        && let Some(structured) = &result.structured_content
    {
        parts.push(structured.to_string());
    }
    let text = parts.join("\n");
    let text = if text.trim().is_empty() {
        "(the tool returned no content)".to_string()
    } else {
        text
    };
    (text, result.is_error == Some(true))
}

fn block_text(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(text) => text.text.clone(),
        ContentBlock::Image(image) => format!(
            "[image: {}, {}; not shown]",
            image.mime_type,
            size(base64_len(&image.data))
        ),
        ContentBlock::Audio(audio) => format!(
            "[audio: {}, {}; not shown]",
            audio.mime_type,
            size(base64_len(&audio.data))
        ),
        ContentBlock::Resource(embedded) => match &embedded.resource {
            ResourceContents::TextResourceContents { uri, text, .. } => {
                format!("[resource {uri}]\n{text}")
            }
            ResourceContents::BlobResourceContents {
                uri,
                mime_type,
                blob,
                ..
            } => format!(
                "[resource {uri}: {}, {}; not shown]",
                mime_type.as_deref().unwrap_or("binary"),
                size(base64_len(blob))
            ),
            _ => "[a resource of a kind glint does not know; not shown]".to_string(),
        },
        ContentBlock::ResourceLink(link) => {
            let mut line = format!("[resource link {}: {}", link.uri, link.name);
            if let Some(description) = &link.description {
                line.push_str(&format!(" ({})", crate::tools::one_line(description, 80)));
            }
            line.push(']');
            line
        }
        _ => "[content of a kind glint does not know; not shown]".to_string(),
    }
}

/// The decoded size of base64 `data`, without decoding it.
fn base64_len(data: &str) -> usize {
    let data = data.trim_end_matches('=');
    data.len() * 3 / 4
}

fn size(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_is_kept_and_other_content_summarised() {
        let result: CallToolResult = serde_json::from_value(json!({
            "content": [
                {"type": "text", "text": "line one\nline two"},
                {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
                {"type": "resource", "resource": {"uri": "file:///a.bin", "blob": "AAAA", "mimeType": "application/octet-stream"}},
                {"type": "resource", "resource": {"uri": "file:///a.txt", "text": "hello"}},
            ],
            "isError": false
        }))
        .unwrap();
        let (text, is_error) = result_text(&result);
        assert!(!is_error);
        assert_eq!(
            text,
            "line one\nline two\n[image: image/png, 8 bytes; not shown]\n[resource file:///a.bin: application/octet-stream, 3 bytes; not shown]\n[resource file:///a.txt]\nhello"
        );
    }

    #[test]
    fn is_error_and_empty_results() {
        let result: CallToolResult = serde_json::from_value(json!({
            "content": [{"type": "text", "text": "Invalid timezone"}], "isError": true
        }))
        .unwrap();
        assert_eq!(result_text(&result), ("Invalid timezone".to_string(), true));
        let empty: CallToolResult = serde_json::from_value(json!({"content": []})).unwrap();
        assert_eq!(result_text(&empty).0, "(the tool returned no content)");
        let structured: CallToolResult =
            serde_json::from_value(json!({"content": [], "structuredContent": {"a": 1}})).unwrap();
        assert_eq!(result_text(&structured).0, "{\"a\":1}");
    }
}

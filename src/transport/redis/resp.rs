//! RESP (REdis Serialization Protocol, version 2): commands as arrays of bulk
//! strings, and the replies this transport reads (status, error, integer,
//! bulk string, and arrays of those).

/// Appends one command (`*N`, then each argument as a bulk string).
pub fn command<'a>(out: &mut Vec<u8>, args: impl ExactSizeIterator<Item = &'a [u8]>) {
    out.push(b'*');
    push_number(out, args.len());
    for arg in args {
        out.push(b'$');
        push_number(out, arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn push_number(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    /// None: the null bulk string.
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

/// Replies nest at most this deep (a server never sends deeper ones to these commands).
const MAX_DEPTH: usize = 4;

/// Parses one reply from the start of `input`: the reply and the bytes it
/// took; Ok(None) when more input is needed; Err for bytes that are no reply.
pub fn parse(input: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    parse_at(input, 0)
}

fn parse_at(input: &[u8], depth: usize) -> Result<Option<(Reply, usize)>, String> {
    let Some(end) = input.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let Some((&kind, line)) = input[..end].split_first() else {
        return Err("an empty reply line".into());
    };
    let text = || String::from_utf8_lossy(line).into_owned();
    let number = || -> Result<i64, String> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not a number: {:?}", String::from_utf8_lossy(line)))
    };
    let after = end + 2;
    match kind {
        b'+' => Ok(Some((Reply::Status(text()), after))),
        b'-' => Ok(Some((Reply::Error(text()), after))),
        b':' => Ok(Some((Reply::Integer(number()?), after))),
        b'$' => {
            let len = number()?;
            if len < 0 {
                return Ok(Some((Reply::Bulk(None), after)));
            }
            let len = len as usize;
            if input.len() < after + len + 2 {
                return Ok(None);
            }
            if &input[after + len..after + len + 2] != b"\r\n" {
                return Err("a bulk string without its CRLF".into());
            }
            Ok(Some((
                Reply::Bulk(Some(input[after..after + len].to_vec())),
                after + len + 2,
            )))
        }
        b'*' if depth < MAX_DEPTH => {
            let n = number()?;
            let mut items = Vec::new();
            let mut at = after;
            for _ in 0..n.max(0) {
                match parse_at(&input[at..], depth + 1)? {
                    Some((item, used)) => {
                        items.push(item);
                        at += used;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(items), at)))
        }
        other => Err(format!("unexpected reply type {:?}", other as char)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        let args: [&[u8]; 3] = [b"RPUSH", b"logstash", b"{\"a\":1}"];
        command(&mut out, args.into_iter());
        assert_eq!(
            out,
            b"*3\r\n$5\r\nRPUSH\r\n$8\r\nlogstash\r\n$7\r\n{\"a\":1}\r\n"
        );
        out.clear();
        command(&mut out, [&b""[..]].into_iter());
        assert_eq!(out, b"*1\r\n$0\r\n\r\n");
    }

    #[test]
    fn replies_parse_whole_or_ask_for_more() {
        assert_eq!(parse(b"+OK\r\n"), Ok(Some((Reply::Status("OK".into()), 5))));
        assert_eq!(parse(b":42\r\n:1"), Ok(Some((Reply::Integer(42), 5))));
        assert_eq!(
            parse(b"-WRONGPASS invalid\r\n"),
            Ok(Some((Reply::Error("WRONGPASS invalid".into()), 20)))
        );
        assert_eq!(
            parse(b"$3\r\nabc\r\n"),
            Ok(Some((Reply::Bulk(Some(b"abc".to_vec())), 9)))
        );
        assert_eq!(parse(b"$-1\r\n"), Ok(Some((Reply::Bulk(None), 5))));
        let array = b"*2\r\n$18\r\nproto-max-bulk-len\r\n$9\r\n536870912\r\n";
        let (reply, used) = parse(array).unwrap().unwrap();
        assert_eq!(used, array.len());
        assert_eq!(
            reply,
            Reply::Array(vec![
                Reply::Bulk(Some(b"proto-max-bulk-len".to_vec())),
                Reply::Bulk(Some(b"536870912".to_vec()))
            ])
        );
        for partial in [&b":4"[..], b"$3\r\nab", b"*2\r\n:1\r\n", b""] {
            assert_eq!(parse(partial), Ok(None), "{partial:?}");
        }
        assert!(parse(b"?x\r\n").is_err());
        assert!(parse(b":x\r\n").is_err());
        assert!(parse(b"$1\r\nab\r\n").is_err());
    }
}

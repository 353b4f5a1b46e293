//! `@timestamp` as both layouts write it: `"YYYY-MM-DDTHH:MM:SS.mmmZ"` (UTC,
//! milliseconds truncated, as python-logstash-async), from the Unix
//! milliseconds emit recorded.

use std::cell::RefCell;
use std::io::Write;

/// Writes timestamps as JSON strings. Events come in runs within one second:
/// the date and time up to the second are formatted once per second, only the
/// milliseconds per event.
#[derive(Default)]
pub(crate) struct TimestampWriter {
    /// The last second formatted ("YYYY-MM-DDTHH:MM:SS.") and its Unix second.
    second: RefCell<Option<(i64, Vec<u8>)>>,
}

impl TimestampWriter {
    /// Appends the timestamp of `unix_ms`, quoted.
    pub(crate) fn write(&self, unix_ms: i64, out: &mut Vec<u8>) {
        let second = unix_ms.div_euclid(1000);
        let mut cache = self.second.borrow_mut();
        if cache.as_ref().is_none_or(|c| c.0 != second) {
            let mut text = Vec::with_capacity(24);
            format_timestamp(second * 1000, &mut text);
            text.truncate(text.len() - 4); // keep "YYYY-MM-DDTHH:MM:SS."
            *cache = Some((second, text));
        }
        let ms = unix_ms.rem_euclid(1000) as u32;
        out.push(b'"');
        out.extend_from_slice(&cache.as_ref().expect("set above").1);
        out.extend_from_slice(&[
            b'0' + (ms / 100) as u8,
            b'0' + (ms / 10 % 10) as u8,
            b'0' + (ms % 10) as u8,
            b'Z',
            b'"',
        ]);
    }
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, unquoted).
pub(crate) fn format_timestamp(unix_ms: i64, out: &mut Vec<u8>) {
    let ms = unix_ms.rem_euclid(1000);
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}Z");
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: i64) -> String {
        let mut v = Vec::new();
        format_timestamp(ms, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn timestamps_match_python_layout() {
        assert_eq!(ts(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(ts(1_477_235_476_853), "2016-10-23T15:11:16.853Z");
        assert_eq!(ts(951_782_400_999), "2000-02-29T00:00:00.999Z");
        assert_eq!(ts(4_102_444_799_001), "2099-12-31T23:59:59.001Z");
    }

    #[test]
    fn the_cached_second_gives_the_same_text() {
        let writer = TimestampWriter::default();
        for ms in [
            0,
            999,
            1000,
            -1,
            -1001,
            1_477_235_476_853,
            1_477_235_476_001,
        ] {
            let mut out = Vec::new();
            writer.write(ms, &mut out);
            assert_eq!(out, format!("\"{}\"", ts(ms)).into_bytes(), "{ms}");
        }
    }
}

//! Long-polling parameters: `?wait=true&value=<version>&maxWait=<seconds>`.

use std::time::Duration;

use crate::answer::percent_decode;

/// How long a long poll waits when `maxWait` is not given, and at most.
pub const MAX_WAIT: Duration = Duration::from_secs(120);

/// A long poll: answer once the tree's `version` differs from `value`, or
/// after `max_wait`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poll {
    pub value: String,
    pub max_wait: Duration,
}

/// A query parameter of a long poll that cannot be used; answered with a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollParamError {
    #[error("invalid maxWait {value:?}: expected a whole number of seconds")]
    MaxWait { value: String },
    #[error("invalid wait {value:?}: expected true or false")]
    Wait { value: String },
}

/// Reads the long-poll parameters of a raw query string; `None` when the
/// request does not ask to wait. `maxWait` above [`MAX_WAIT`] is lowered
/// to it; unknown parameters are ignored.
pub fn parse(query: Option<&str>) -> Result<Option<Poll>, PollParamError> {
    let mut wait = false;
    let mut value = String::new();
    let mut max_wait = MAX_WAIT;
    for pair in query.unwrap_or_default().split('&') {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(&raw.replace('+', " "));
        match key {
            "wait" => {
                wait = match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(PollParamError::Wait { value: v }),
                }
            }
            "value" => value = v,
            "maxWait" => {
                let secs = v
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| PollParamError::MaxWait { value: v.clone() })?;
                max_wait = Duration::from_secs(secs).min(MAX_WAIT);
            }
            _ => {}
        }
    }
    Ok(wait.then_some(Poll { value, max_wait }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_request_without_wait_is_not_a_long_poll() {
        assert_eq!(parse(None).unwrap(), None);
        assert_eq!(parse(Some("value=3&maxWait=5")).unwrap(), None);
        assert_eq!(parse(Some("wait=false&value=3")).unwrap(), None);
    }

    #[test]
    fn wait_value_and_max_wait_are_read() {
        let p = parse(Some("wait=true&value=17&maxWait=5"))
            .unwrap()
            .unwrap();
        assert_eq!(p.value, "17");
        assert_eq!(p.max_wait, Duration::from_secs(5));
    }

    #[test]
    fn max_wait_defaults_to_and_is_capped_at_the_maximum() {
        let p = parse(Some("wait=true&value=1")).unwrap().unwrap();
        assert_eq!(p.max_wait, MAX_WAIT);
        let p = parse(Some("wait=true&value=1&maxWait=100000"))
            .unwrap()
            .unwrap();
        assert_eq!(p.max_wait, MAX_WAIT);
    }

    #[test]
    fn a_bad_max_wait_is_rejected_naming_the_parameter() {
        for bad in ["abc", "-1", "1.5", ""] {
            let err = parse(Some(&format!("wait=true&maxWait={bad}"))).unwrap_err();
            assert!(err.to_string().contains("maxWait"), "{err}");
        }
        let err = parse(Some("wait=yes")).unwrap_err();
        assert!(err.to_string().contains("wait"), "{err}");
    }
}

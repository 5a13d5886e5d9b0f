//! Typed views of the untyped objects (`RawObject`) the access routes answer.

use corral_types::{Object, RawObject};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Every object of a listing as `Object<S, T>`; `what` names the kind in
/// the error about one the client cannot read.
pub(crate) fn decode_all<S, T>(
    items: Vec<RawObject>,
    what: &str,
) -> anyhow::Result<Vec<Object<S, T>>>
where
    S: Serialize + DeserializeOwned,
    T: Serialize + DeserializeOwned + Default,
{
    items.into_iter().map(|raw| decode(raw, what)).collect()
}

/// One object as `Object<S, T>`.
pub(crate) fn decode<S, T>(raw: RawObject, what: &str) -> anyhow::Result<Object<S, T>>
where
    S: Serialize + DeserializeOwned,
    T: Serialize + DeserializeOwned + Default,
{
    let name = raw.meta.name.clone();
    Object::from_raw(raw).map_err(|e| {
        anyhow::anyhow!("the server answered a {what} {name:?} this client cannot read: {e}")
    })
}

/// `yes` or `no`, for flags in tables.
pub(crate) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{GLOBAL, Kind, RegistrationToken, RegistrationTokenSpec};

    #[test]
    fn decoding_a_raw_listing_names_the_bad_object() {
        let spec = RegistrationTokenSpec {
            created_by: "alice".into(),
            ..RegistrationTokenSpec::default()
        };
        let token: RegistrationToken = Object::new(Kind::RegistrationToken, GLOBAL, "a1", spec);
        let good = token.to_raw().unwrap();
        let mut bad = good.clone();
        bad.meta.name = "b2".into();
        bad.spec = serde_json::json!({"expires": 42});
        let ok: Vec<RegistrationToken> = decode_all(vec![good], "registration token").unwrap();
        assert_eq!(ok[0].spec.created_by, "alice");
        let e =
            decode_all::<RegistrationTokenSpec, serde_json::Value>(vec![bad], "registration token")
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("registration token \"b2\" this client cannot read"),
            "{e}"
        );
    }

    #[test]
    fn flags_read_yes_or_no() {
        assert_eq!((yes_no(true), yes_no(false)), ("yes".into(), "no".into()));
    }
}

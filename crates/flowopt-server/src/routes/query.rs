//! Query strings: each request's own options and the `flowopt` planner's
//! ([`FlowOptOptions`]), from one query, with any other name refused (400 naming it).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use flowopt_planner::FlowOptOptions;
use serde::de::{DeserializeOwned, Error as _, Visitor};

use crate::error::ApiError;

/// A request's own query options `T` and the `flowopt` planner's ([`split_query`]), as an
/// extractor: it runs before the body is read, so a bad query is refused first.
pub(crate) struct QueryOptions<T>(pub T, pub FlowOptOptions);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryOptions<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let (own, flowopt) = split_query(parts.uri.query())?;
        Ok(Self(own, flowopt))
    }
}

/// The names of a struct's fields as its derived `Deserialize` knows them: what a query may
/// say, without spelling the names a second time.
pub(crate) fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Fields(Option<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for &mut Fields {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = Some(fields);
            Err(Self::Error::custom("read the fields only"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields = Fields(None);
    let _ = T::deserialize(&mut fields);
    fields.0.unwrap_or(&[])
}

/// A query's own options `T` and the `flowopt` planner's. A name neither knows, a repeated
/// name or a bad value is a 400 naming it.
pub(crate) fn split_query<T: DeserializeOwned>(
    query: Option<&str>,
) -> Result<(T, FlowOptOptions), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::malformed("query", e.to_string()))?;
    let (own, flowopt) = (fields_of::<T>(), fields_of::<FlowOptOptions>());
    let mut mine = Vec::new();
    let mut planner = Vec::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(n, _)| n == name) {
            return Err(ApiError::malformed(
                name,
                format!("`{name}` is given twice"),
            ));
        }
        if own.contains(&name.as_str()) {
            mine.push((name.as_str(), value.as_str()));
        } else if flowopt.contains(&name.as_str()) {
            planner.push((name.as_str(), value.as_str()));
        } else {
            let known: Vec<&str> = own.iter().chain(flowopt).copied().collect();
            return Err(ApiError::malformed(
                name,
                format!(
                    "unknown query option `{name}`; expected one of {}",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok((parse(&mine)?, parse(&planner)?))
}

/// `T` from `pairs`; a bad value is an error naming its option.
fn parse<T: DeserializeOwned>(pairs: &[(&str, &str)]) -> Result<T, ApiError> {
    let from = |pairs: &[(&str, &str)]| {
        serde_urlencoded::to_string(pairs)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_urlencoded::from_str::<T>(&text).map_err(|e| e.to_string()))
    };
    from(pairs).map_err(|message| {
        // Name the first option that is wrong on its own.
        let field = pairs
            .iter()
            .find(|pair| from(std::slice::from_ref(*pair)).is_err())
            .map_or("query", |(name, _)| *name);
        ApiError::malformed(field, format!("query option `{field}`: {message}"))
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Own {
        planner: Option<String>,
        seed: Option<u64>,
    }

    fn field(err: ApiError) -> String {
        err.body().error.field.unwrap_or_default()
    }

    #[test]
    fn a_query_splits_into_its_own_options_and_the_planners() {
        assert_eq!(fields_of::<Own>(), ["planner", "seed"]);
        let (own, flowopt) = split_query::<Own>(Some(
            "seed=3&candidates=8&planner=flowopt&return_candidates=true",
        ))
        .unwrap();
        assert_eq!(
            own,
            Own {
                planner: Some("flowopt".into()),
                seed: Some(3)
            }
        );
        assert_eq!(flowopt.candidates, Some(8));
        assert_eq!(flowopt.return_candidates, Some(true));
        let (own, flowopt) = split_query::<Own>(None).unwrap();
        assert_eq!(own, Own::default());
        assert!(flowopt.is_empty());
    }

    #[test]
    fn unknown_repeated_and_bad_options_are_refused_by_name() {
        let err = split_query::<Own>(Some("seed=1&halve_every=10")).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(field(err), "halve_every");
        assert_eq!(
            field(split_query::<Own>(Some("seed=1&seed=2")).unwrap_err()),
            "seed"
        );
        assert_eq!(
            field(split_query::<Own>(Some("seed=1&candidates=many")).unwrap_err()),
            "candidates"
        );
        assert_eq!(
            field(split_query::<Own>(Some("seed=-1&planner=x")).unwrap_err()),
            "seed"
        );
    }
}

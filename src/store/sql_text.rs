//! Domain types stored as `Text` on both backends: [`Status`] and [`ReviewDecision`] as their stable names,
//! [`Reference`] as itself. One generic implementation per type serves SQLite, PostgreSQL and the
//! `MultiBackend` of [`super::DbConnection`], so a row struct or a filter holds the domain type and a status
//! added later is a compile error wherever it matters, not a string to search for.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::decision::{ReviewDecision, Status};
use crate::submission::Reference;

/// `ToSql`/`FromSql` through the type's text form: `$to` gives a `&str`, `$from` turns the stored `String`
/// back into the type or says why it cannot.
macro_rules! text_column {
    ($ty:ty, $to:expr, $from:expr) => {
        impl<DB> ToSql<Text, DB> for $ty
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                let text: &str = $to(self);
                text.to_sql(out)
            }
        }

        impl<DB> FromSql<Text, DB> for $ty
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                $from(String::from_sql(bytes)?)
            }
        }
    };
}

fn unknown(what: &str, text: &str) -> Box<dyn std::error::Error + Send + Sync> {
    format!("stored {what} `{text}` is not one this version knows").into()
}

text_column!(Status, |s: &Status| s.as_str(), |text: String| {
    Status::parse(&text).ok_or_else(|| unknown("status", &text))
});

text_column!(
    ReviewDecision,
    |d: &ReviewDecision| d.as_str(),
    |text: String| ReviewDecision::parse(&text).ok_or_else(|| unknown("review decision", &text))
);

text_column!(Reference, Reference::as_str, |text: String| Ok(
    Reference::from_stored(text)
));

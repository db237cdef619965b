//! The pieces every venue's message is read into, straight from the text (no
//! JSON tree in between), and read as leniently and exactly as a tree would
//! be: any field may hold any JSON (a reader decides afterwards, in its own
//! order, what is wrong and names that field), a repeated key keeps its last
//! value, unknown fields are skipped but still checked as JSON (depth, escapes,
//! number range), and strings are borrowed from the text unless they hold
//! escapes. So a message reads to the same events, or the same error, as it
//! did through `serde_json::Value`, only without building the tree.
//!
//! Each message is an [`Obj`] of a struct declared with [`fields!`]; nested
//! lists are [`List`]s; leaves are [`Json`].

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Number, Value};

/// Non-map, non-list JSON (null, booleans, numbers, strings) as the visitor's `other()`.
macro_rules! scalars_are_other {
    () => {
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(self.other())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(self.other())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(self.other())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(self.other())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(self.other())
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(self.other())
        }
    };
}

/// One field's value as sent. Anything that is not a string, number or
/// boolean is rare (and never read as one), so it is kept as a tree only for
/// the fields a reader prints whole (Binance's trade id and error code).
#[derive(Debug, Default)]
pub(crate) enum Json<'a> {
    /// The message has no such field.
    #[default]
    Missing,
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` holds it (its shortest decimal form prints the same).
    Num(Number),
    /// A string, borrowed from the text unless it had escapes.
    Str(Cow<'a, str>),
    /// A list or an object.
    Tree(Box<Value>),
}

impl Json<'_> {
    /// The string, if it is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if it is one.
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A whole number that fits an `i64` (not a float, even a whole one).
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Num(n) => n.as_i64(),
            _ => None,
        }
    }

    /// A whole number that fits a `u64`.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => n.as_u64(),
            _ => None,
        }
    }

    /// Whether the field is there at all (even as `null`).
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self, Json::Missing)
    }

    /// The value printed as compact JSON (a string quoted), as a JSON tree prints it.
    pub(crate) fn to_json(&self) -> Option<String> {
        Some(match self {
            Json::Missing => return None,
            Json::Null => "null".to_owned(),
            Json::Bool(b) => b.to_string(),
            Json::Num(n) => n.to_string(),
            Json::Str(s) => Value::from(&**s).to_string(),
            Json::Tree(v) => v.to_string(),
        })
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Num(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Num(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        // As a JSON tree holds it: a float that is not finite is null.
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Num))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Json<'de>, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(|v| Json::Tree(Box::new(v)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Json<'de>, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(|v| Json::Tree(Box::new(v)))
    }
}

/// A value no reader needs: parsed and checked as a JSON tree would be, then dropped.
pub(crate) struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl SkipVisitor {
    fn other(self) -> Skip {
        Skip
    }
}

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars_are_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// An object key, borrowed unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s.to_owned())))
    }
}

/// The fields of one kind of object a reader knows, each read by its key.
pub(crate) trait Fields<'de>: Default {
    /// Reads the value of `key` from `map` (a known field replaces any earlier
    /// value, as in a JSON tree; an unknown one is skipped).
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// A field of a [`fields!`] struct, read where it stands (objects are large:
/// reading one in place saves copying it through every return on the way).
pub(crate) trait Slot<'de> {
    /// Reads the field's value, replacing what an earlier same-named key left.
    fn read<A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error>;
}

impl<'de> Slot<'de> for Json<'de> {
    fn read<A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        *self = map.next_value()?;
        Ok(())
    }
}

impl<'de, T: Fields<'de>> Slot<'de> for Obj<T> {
    fn read<A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        map.next_value_seed(InPlace(self))
    }
}

impl<'de, T: Fields<'de>> Slot<'de> for List<T> {
    fn read<A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        map.next_value_seed(InPlace(self))
    }
}

/// What a field expected to hold an object held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// No such field.
    #[default]
    Missing,
    /// Something else (null, a list, ...): no fields, as a JSON tree's lookups find none.
    Other,
    /// An object.
    Object,
}

/// An object of `T`'s fields, or whatever else stood there (then every field is missing).
#[derive(Debug, Default)]
pub(crate) struct Obj<T> {
    /// What was there.
    pub(crate) shape: Shape,
    /// The fields read.
    pub(crate) fields: T,
}

impl<T> Deref for Obj<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.fields
    }
}

/// Reads a value into the object or list it points at.
struct InPlace<'s, T>(&'s mut T);

impl<T> InPlace<'_, Obj<T>> {
    fn other(self) {
        self.0.shape = Shape::Other;
    }
}

impl<T> InPlace<'_, List<T>> {
    fn other(self) {}
}

impl<'de, T: Fields<'de>> DeserializeSeed<'de> for InPlace<'_, Obj<T>> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.0.shape != Shape::Missing {
            // The key came before: its last value stands alone.
            *self.0 = Obj::default();
        }
        d.deserialize_any(self)
    }
}

impl<'de, T: Fields<'de>> Visitor<'de> for InPlace<'_, Obj<T>> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars_are_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.other();
        SkipVisitor.visit_seq(seq).map(drop)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.shape = Shape::Object;
        while let Some(Key(key)) = map.next_key()? {
            self.0.fields.field(&key, &mut map)?;
        }
        Ok(())
    }
}

/// A list of `T` objects, the first one held inline: venues send one item a
/// message, seldom more, so most lists cost no allocation.
#[derive(Debug, Default)]
pub(crate) struct List<T> {
    /// The key was there (a later one with the same name starts over).
    seen: bool,
    /// It held a list.
    is_list: bool,
    /// The first item (`Missing` while the list is empty).
    first: Obj<T>,
    /// The items after the first.
    rest: Vec<Obj<T>>,
}

impl<T> List<T> {
    /// The items, or `None` when the field is missing or holds something other than a list.
    pub(crate) fn items(&self) -> Option<impl Iterator<Item = &Obj<T>> + Clone> {
        let first = (self.first.shape != Shape::Missing).then_some(&self.first);
        self.is_list
            .then(|| first.into_iter().chain(self.rest.iter()))
    }
}

impl<'de, T: Fields<'de>> DeserializeSeed<'de> for InPlace<'_, List<T>> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.0.seen {
            *self.0 = List::default();
        }
        self.0.seen = true;
        d.deserialize_any(self)
    }
}

impl<'de, T: Fields<'de>> Visitor<'de> for InPlace<'_, List<T>> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars_are_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let list = self.0;
        list.is_list = true;
        if seq.next_element_seed(InPlace(&mut list.first))?.is_none() {
            return Ok(());
        }
        loop {
            list.rest.push(Obj::default());
            let Some(item) = list.rest.last_mut() else {
                return Ok(());
            };
            if seq.next_element_seed(InPlace(item))?.is_none() {
                list.rest.pop();
                return Ok(());
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        SkipVisitor.visit_map(map).map(drop)
    }
}

/// Reads a whole message into `into` (which starts out empty), as `serde_json::from_str` would.
pub(crate) fn read<'de, T: Fields<'de>>(
    text: &'de str,
    into: &mut Obj<T>,
) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    InPlace(into).deserialize(&mut de)?;
    de.end()
}

/// Declares a struct of fields ([`Json`], [`Obj`], [`List`]) read by their
/// JSON keys: `fields! { Name { "key" => field: Json<'a>, .. } }`.
macro_rules! fields {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $key:literal => $field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Default)]
        pub(crate) struct $name<'a> {
            $($(#[$fdoc])* pub(crate) $field: $ty,)*
        }

        impl<'de> $crate::wire::Fields<'de> for $name<'de> {
            fn field<A: serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<(), A::Error> {
                match key {
                    $($key => $crate::wire::Slot::read(&mut self.$field, map)?,)*
                    _ => {
                        map.next_value::<$crate::wire::Skip>()?;
                    }
                }
                Ok(())
            }
        }
    };
}

pub(crate) use fields;

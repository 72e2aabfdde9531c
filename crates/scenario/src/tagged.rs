//! serde for tables tagged by a kind (`kind = "gbm"`, `dist = "lognormal"`): one struct
//! per kind, each with only its own keys, chosen by the tag.
//!
//! Why not `#[serde(tag = "kind")]`: serde's internally tagged enums buffer the whole
//! table before they read the tag, and an error inside the buffered content (a string
//! where a number belongs) loses its span, so the message could name only the table, not
//! the key or its line. [`tagged!`] reads the tag first and streams the rest of the table
//! into the kind's struct from the TOML deserializer itself, so every error keeps the
//! span of its own key or value. That needs the keys in the file's order (toml's
//! `preserve_order`; otherwise they come sorted). Keys written before the tag have to be
//! buffered (their errors fall back to the table's span; a message that names its key
//! still finds its line); [`crate::load_str`] moves the tag to the front of every table
//! before deserializing, so that does not happen for a file.
//!
//! A key the kind does not have is refused while its key is read, with the kind and its
//! keys in the message. The keys come from the kind's struct (the names serde checks
//! unknown keys against, read by [`fields_of`]), so they are written once.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// A table whose keys depend on one of its values, its tag.
pub trait Tagged: Sized {
    /// The key that names the kind.
    const TAG: &'static str;
    /// What the kinds are kinds of, for messages: "process", "agent kind".
    const NOUN: &'static str;
    /// The kinds as written in files.
    const KINDS: &'static [&'static str];
    /// The keys of `kind` besides the tag, read from its struct.
    fn keys(kind: &str) -> &'static [&'static str];
    /// The variant `kind`, deserialized from the rest of the table.
    fn variant<'de, A: MapAccess<'de>>(kind: &'static str, rest: A) -> Result<Self, A::Error>;
    /// The kind of this value, as written in files.
    fn kind(&self) -> &'static str;
}

/// Defines a [`Tagged`] enum with one variant (a struct) per kind, and its
/// `Deserialize`: `tagged! { Name by "kind", a kind of "noun" { "a" => A(RawA), ... } }`.
macro_rules! tagged {
    (
        $(#[$meta:meta])*
        $name:ident by $tag:literal, a kind of $noun:literal {
            $($value:literal => $variant:ident($ty:ty),)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub enum $name {
            $($variant($ty),)+
        }

        impl $crate::tagged::Tagged for $name {
            const TAG: &'static str = $tag;
            const NOUN: &'static str = $noun;
            const KINDS: &'static [&'static str] = &[$($value),+];

            fn keys(kind: &str) -> &'static [&'static str] {
                match kind {
                    $($value => $crate::tagged::fields_of::<$ty>(),)+
                    _ => &[],
                }
            }

            fn variant<'de, A: ::serde::de::MapAccess<'de>>(
                kind: &'static str,
                rest: A,
            ) -> ::std::result::Result<Self, A::Error> {
                let rest = ::serde::de::value::MapAccessDeserializer::new(rest);
                match kind {
                    $($value => <$ty as ::serde::Deserialize>::deserialize(rest).map($name::$variant),)+
                    other => Err(<A::Error as ::serde::de::Error>::custom(
                        $crate::tagged::unknown_kind::<$name>(other),
                    )),
                }
            }

            fn kind(&self) -> &'static str {
                match self {
                    $($name::$variant(_) => $value,)+
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                $crate::tagged::deserialize::<D, $name>(deserializer)
            }
        }
    };
}
pub(crate) use tagged;

/// Deserializes a [`Tagged`] table (the body of the `Deserialize` that [`tagged!`] writes).
pub fn deserialize<'de, D: Deserializer<'de>, T: Tagged>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_map(TaggedVisitor::<T>(PhantomData))
}

/// `a`, `b`, `c`: a list in serde's style, which [`crate::load_str`] turns into the
/// "valid" part of its message as it does for serde's own lists.
fn quoted(items: &[&str]) -> String {
    items.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

pub fn unknown_kind<T: Tagged>(kind: &str) -> String {
    format!("unknown {} `{kind}`, expected one of {}", T::NOUN, quoted(T::KINDS))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a table with `{}` = one of {}", T::TAG, T::KINDS.join(", "))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut before = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == T::TAG {
                // Checked inside the value's own deserializer, so an unknown kind keeps
                // the span of the value.
                let kind = map.next_value_seed(KindSeed::<T>(PhantomData))?;
                let rest = Rest::<A, T> {
                    before: before.into_iter(),
                    value: None,
                    live: map,
                    kind,
                    tagged: PhantomData,
                };
                return T::variant(kind, rest);
            }
            before.push((key, map.next_value::<toml::Value>()?));
        }
        Err(de::Error::custom(format!(
            "missing field `{}`, expected one of {}",
            T::TAG,
            quoted(T::KINDS)
        )))
    }
}

/// The tag's value: one of the kinds.
struct KindSeed<T>(PhantomData<T>);

impl<'de, T: Tagged> DeserializeSeed<'de> for KindSeed<T> {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<&'static str, D::Error> {
        let text = String::deserialize(deserializer)?;
        T::KINDS
            .iter()
            .copied()
            .find(|k| *k == text)
            .ok_or_else(|| de::Error::custom(unknown_kind::<T>(&text)))
    }
}

/// The table after its tag: the entries read before it, then the live rest; every key
/// checked against the keys of the kind.
struct Rest<A, T> {
    before: std::vec::IntoIter<(String, toml::Value)>,
    /// The value of the buffered key just returned.
    value: Option<toml::Value>,
    live: A,
    kind: &'static str,
    tagged: PhantomData<T>,
}

impl<'de, A: MapAccess<'de>, T: Tagged> MapAccess<'de> for Rest<A, T> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = KnownKey::<K, T> { seed, kind: self.kind, tagged: PhantomData };
        if let Some((key, value)) = self.before.next() {
            self.value = Some(value);
            let key: de::value::StringDeserializer<A::Error> = key.into_deserializer();
            return seed.deserialize(key).map(Some);
        }
        self.live.next_key_seed(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(value).map_err(|e| de::Error::custom(e.message())),
            None => self.live.next_value_seed(seed),
        }
    }
}

/// A key of the kind's table. An unknown one is refused here, inside the key's own
/// deserializer (so the error has the key's span), with the kind and its keys named.
struct KnownKey<K, T> {
    seed: K,
    kind: &'static str,
    tagged: PhantomData<T>,
}

impl<'de, K: DeserializeSeed<'de>, T: Tagged> DeserializeSeed<'de> for KnownKey<K, T> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<K::Value, D::Error> {
        let key = String::deserialize(deserializer)?;
        let keys = T::keys(self.kind);
        if !keys.contains(&key.as_str()) {
            return Err(de::Error::custom(not_a_key::<T>(&key, self.kind)));
        }
        let key: de::value::StringDeserializer<D::Error> = key.into_deserializer();
        self.seed.deserialize(key)
    }
}

/// The message for `key` in a table of kind `kind`, which does not have it.
pub fn not_a_key<T: Tagged>(key: &str, kind: &str) -> String {
    let all: Vec<&str> = std::iter::once(T::TAG).chain(T::keys(kind).iter().copied()).collect();
    format!(
        "`{key}` is not a parameter of the `{kind}` {noun}, expected keys of `{kind}`: {}",
        all.join(", "),
        noun = T::NOUN,
    )
}

/// The field names of a struct that derives `Deserialize` (those serde checks unknown
/// keys against), read by asking it to deserialize itself from a probe.
pub fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The probe always fails: it records the names and stops.
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

struct FieldProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only structs are probed for their fields"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("probed"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

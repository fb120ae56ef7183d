//! Pins: identifiers written on a policy at its first match and required to
//! stay equal afterwards.
//!
//! Names change hands (an account or repository is deleted and its name
//! registered again); the ids behind them do not. An evaluator declares one
//! table of pins — name and how to read it from verified claims — and the SDK
//! derives everything from it: `info().pins`, the pins a match returns and
//! the check of the pins a policy already holds. One table means the three
//! can never disagree.

/// One pinned identifier: its name and how to read it from verified claims.
pub struct Pin<T: 'static> {
    pub name: &'static str,
    pub read: fn(&T) -> &str,
}

impl<T> Pin<T> {
    /// `Pin::new("repository_id", |c| c.repository_id.as_str())`.
    pub const fn new(name: &'static str, read: fn(&T) -> &str) -> Self {
        Self { name, read }
    }
}

/// The names, in table order (`info().pins`).
pub fn names<T>(pins: &[Pin<T>]) -> Vec<String> {
    pins.iter().map(|pin| pin.name.to_string()).collect()
}

/// The token's values, sorted by name (`matched.pins`).
pub fn values<T>(pins: &[Pin<T>], claims: &T) -> Vec<(String, String)> {
    let mut values: Vec<(String, String)> = pins
        .iter()
        .map(|pin| (pin.name.to_string(), (pin.read)(claims).to_string()))
        .collect();
    values.sort();
    values
}

/// Every pin a policy holds equals the token's value. A name the table does
/// not know fails closed: ignoring it would trust a token the pin was meant
/// to exclude. The error is a near-miss reason.
pub fn check<T>(pins: &[Pin<T>], held: &[(String, String)], claims: &T) -> Result<(), String> {
    for (name, value) in held {
        let Some(pin) = pins.iter().find(|pin| pin.name == name) else {
            return Err(format!(
                "the policy is pinned to {name}, which this evaluator does not know"
            ));
        };
        let actual = (pin.read)(claims);
        if actual != value {
            return Err(format!(
                "{name} is {actual}, the policy is pinned to {value}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ids {
        a: String,
        b: String,
    }

    const PINS: &[Pin<Ids>] = &[Pin::new("b_id", |c| &c.b), Pin::new("a_id", |c| &c.a)];

    fn ids() -> Ids {
        Ids {
            a: "1".into(),
            b: "2".into(),
        }
    }

    fn held(pins: &[(&str, &str)]) -> Vec<(String, String)> {
        pins.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_in_table_order_values_sorted() {
        assert_eq!(names(PINS), vec!["b_id", "a_id"]);
        assert_eq!(values(PINS, &ids()), held(&[("a_id", "1"), ("b_id", "2")]));
    }

    #[test]
    fn held_pins_must_equal_and_be_known() {
        assert_eq!(check(PINS, &[], &ids()), Ok(()));
        assert_eq!(check(PINS, &held(&[("a_id", "1")]), &ids()), Ok(()));
        assert_eq!(
            check(PINS, &held(&[("a_id", "1"), ("b_id", "3")]), &ids()),
            Err("b_id is 2, the policy is pinned to 3".into())
        );
        assert!(
            check(PINS, &held(&[("c_id", "1")]), &ids())
                .is_err_and(|e| e.contains("does not know"))
        );
    }
}

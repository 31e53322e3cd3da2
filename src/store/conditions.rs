//! A `WHERE` clause built from optional filters, with its values bound in order, so a
//! listing writes each filter once and never counts placeholders by hand.

use super::rows::AnyQuery;

/// Conditions joined by `AND`, each with its text value.
#[derive(Default)]
pub(super) struct Conditions {
    tests: Vec<String>,
    values: Vec<String>,
}

impl Conditions {
    /// Adds `test`, where `{}` stands for `value`'s placeholder
    /// (`"client_id = {}"`, `"(client_id IS NULL OR client_id = {})"`).
    pub fn bind(&mut self, test: &str, value: String) {
        self.values.push(value);
        self.tests
            .push(test.replace("{}", &format!("${}", self.values.len())));
    }

    /// Adds a test without a value.
    pub fn literal(&mut self, test: String) {
        self.tests.push(test);
    }

    /// ` WHERE …`, or nothing without conditions.
    pub fn clause(&self) -> String {
        if self.tests.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.tests.join(" AND "))
        }
    }

    /// The placeholder of the first value bound after these.
    pub fn next(&self) -> String {
        format!("${}", self.values.len() + 1)
    }

    /// Binds the values, in order.
    pub fn apply<'q>(&self, mut query: AnyQuery<'q>) -> AnyQuery<'q> {
        for value in &self.values {
            query = query.bind(value.clone());
        }
        query
    }
}

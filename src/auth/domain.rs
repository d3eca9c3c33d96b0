//! What people type about accounts and workspaces, parsed: a person's name, an email address, a
//! workspace's name, a new password. Each error is the message shown next to its field.

use super::password;
use crate::fields::FieldErrors;
use crate::text::refuse_hidden;
use secrecy::{ExposeSecret, SecretString};

/// A new account as typed into the setup, admin or invitation form.
pub struct NewAccount {
    pub name: String,
    pub email: String,
    pub password: SecretString,
}

/// A parsed [`NewAccount`]: (name, lowercased email); the password was checked.
pub struct ValidAccount {
    pub name: String,
    pub email: String,
}

pub fn parse_person_name(value: &str) -> Result<String, String> {
    let name = value.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("Name is required (at most 100 characters).".into());
    }
    refuse_hidden(name, "the name")?;
    Ok(name.to_owned())
}

/// Emails are stored lowercased, so they match whatever their case.
pub fn parse_email(value: &str) -> Result<String, String> {
    let email = value.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err("Enter a valid email address, like admin@example.com.".into());
    }
    refuse_hidden(&email, "the email address")?;
    Ok(email)
}

pub fn parse_workspace_name(value: &str) -> Result<String, String> {
    let name = value.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("Workspace name is required (at most 100 characters).".into());
    }
    refuse_hidden(name, "the workspace name")?;
    Ok(name.to_owned())
}

impl NewAccount {
    /// Every field's problem at once, under the fields `name`, `email` and `password`.
    pub fn parse(&self, errors: &mut FieldErrors) -> Option<ValidAccount> {
        let name = parse_person_name(&self.name).map_err(|m| errors.add("name", m)).ok();
        let email = parse_email(&self.email).map_err(|m| errors.add("email", m)).ok();
        if let Err(m) = password::check_new(self.password.expose_secret()) {
            errors.add("password", m);
        }
        match (name, email) {
            (Some(name), Some(email)) if errors.is_empty() => Some(ValidAccount { name, email }),
            _ => None,
        }
    }
}

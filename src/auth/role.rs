//! A member's role inside one workspace.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Viewer,
}

impl Role {
    pub const CHOICES: [(&'static str, &'static str); 3] =
        [("owner", "Owner"), ("admin", "Admin"), ("viewer", "Viewer (read-only)")];

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    pub fn can_write(self) -> bool {
        !matches!(self, Role::Viewer)
    }

    /// The lower of two roles (a token never has more rights than its creator has now).
    pub fn lower(self, other: Role) -> Role {
        let rank = |r: Role| match r {
            Role::Owner => 2,
            Role::Admin => 1,
            Role::Viewer => 0,
        };
        if rank(self) <= rank(other) { self } else { other }
    }
}

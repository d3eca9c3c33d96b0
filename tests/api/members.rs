//! Members join by invitation: the test helpers that invite and accept, over HTTP.

use crate::helpers::{TestApp, new_client};

/// The invitation link a members page shows after inviting.
pub fn invitation_link(html: &str) -> String {
    let marker = "id=\"invitation-link\" type=\"text\" readonly value=\"";
    let start = html.find(marker).map(|i| i + marker.len()).expect("the page shows the invitation link");
    html[start..].split('"').next().unwrap_or_default().to_owned()
}

impl TestApp {
    /// Invites `email` as `role` into this client's current workspace (it must be an owner's);
    /// returns the link's path and query.
    pub async fn invite(&self, email: &str, role: &str) -> String {
        let page = self.post("/members/invitations", &[("email", email), ("role", role)]).await;
        assert_eq!(page.status, 200, "invite {email}: {}", page.body);
        invitation_link(&page.body).trim_start_matches(&self.address).to_owned()
    }

    /// A new member: invited by this client (an owner), the invitation accepted with a new
    /// account. Returns the member's signed-in client.
    pub async fn add_member(&self, name: &str, email: &str, password: &str, role: &str) -> reqwest::Client {
        let link = self.invite(email, role).await;
        let client = new_client();
        assert_eq!(self.get_with(&client, &link).await.status, 200, "the link opens");
        let token = link.split("token=").nth(1).expect("a token").to_owned();
        let joined =
            self.post_with(&client, "/invitation", &[("token", &token), ("name", name), ("password", password)]).await;
        assert_eq!(joined.location.as_deref(), Some("/destinations"), "{email} joins: {}", joined.body);
        client
    }
}

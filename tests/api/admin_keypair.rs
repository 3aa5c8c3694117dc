//! A keypair connection's whole life through the admin UI's forms against snowsim: create,
//! enroll with the SQL the page shows, test, disable/enable, rotate the key (the rotation SQL,
//! then complete), and delete after the confirmation step.

use crate::admin_support::Admin;
use crate::sim::spawn_with_snowsim;

/// The text of `<pre id="{id}" …>` on a page, unescaped.
fn pre(html: &str, id: &str) -> String {
    let marker = format!("<pre id=\"{id}\" class=\"code\" tabindex=\"0\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {html}"))
        + marker.len();
    let text = &html[start..start + html[start..].find("</pre>").unwrap()];
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn a_keypair_connection_is_created_enrolled_tested_rotated_and_deleted_in_the_ui() {
    let env = spawn_with_snowsim().await;
    let admin = Admin::login(&env.app.address, &env.app.admin_key).await;
    let sim = env.sim.base_url();
    let res = admin
        .post(
            "/admin/connections",
            &[
                ("kind", "keypair"),
                ("name", "bot"),
                ("account", "xy12345.us-east-2.aws"),
                ("host", &sim),
                ("user", "jsmith"),
                ("role", "ANALYST"),
                ("warehouse", "COMPUTE_WH"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/admin/connections/bot");
    let page = admin.page("/admin/connections/bot").await;
    assert!(page.contains("pending enrollment"));
    let alter = pre(&page, "sql-alter-user");
    assert!(
        alter.starts_with("ALTER USER \"JSMITH\" SET RSA_PUBLIC_KEY='"),
        "{alter}"
    );
    assert!(pre(&page, "sql-warehouse").contains("SHOW WAREHOUSES LIKE 'COMPUTE_WH'"));
    // The UI shows exactly what the JSON API returns.
    let api: serde_json::Value = env
        .app
        .client
        .get(format!("{}/v1/connections/bot", env.app.address))
        .bearer_auth(&env.app.admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["enrollment"]["alter_user_sql"], alter.as_str());
    let fingerprint = api["enrollment"]["fingerprint"].as_str().unwrap();
    assert!(
        page.contains(&fingerprint.replace('/', "&#x2f;")),
        "{fingerprint}"
    );

    // Testing before enrollment fails with Snowflake's reason and a hint.
    assert_eq!(
        admin
            .post("/admin/connections/bot/test", &[])
            .await
            .status(),
        303
    );
    let page = admin.page("/admin/connections/bot").await;
    assert!(page.contains("<strong>failed</strong>"), "{page}");
    assert!(page.contains("Hint:"));

    env.admin_sql(&alter).await;
    let res = admin.post("/admin/connections/bot/test", &[]).await;
    assert_eq!(res.headers()["location"], "/admin/connections/bot#test");
    let page = admin.page("/admin/connections/bot").await;
    assert!(
        page.contains("<strong>connected</strong> — as JSMITH"),
        "{page}"
    );

    // Disable and enable.
    admin.post("/admin/connections/bot/disable", &[]).await;
    assert!(admin
        .page("/admin/connections/bot")
        .await
        .contains(">disabled</span>"));
    admin.post("/admin/connections/bot/enable", &[]).await;
    assert!(admin
        .page("/admin/connections/bot")
        .await
        .contains(">connected</span>"));

    // Rotate: the page shows the rotation template; completing before it ran is refused.
    assert_eq!(
        admin
            .post("/admin/connections/bot/rotate-key", &[])
            .await
            .status(),
        303
    );
    let page = admin.page("/admin/connections/bot").await;
    let rotate = pre(&page, "sql-rotate");
    assert!(rotate.contains("SET RSA_PUBLIC_KEY_2='"), "{rotate}");
    let res = admin
        .post("/admin/connections/bot/rotate-key/complete", &[])
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("does not work yet"));
    for statement in rotate.split(";\n").filter(|s| !s.trim().is_empty()) {
        env.admin_sql(statement.trim()).await;
    }
    let res = admin
        .post("/admin/connections/bot/rotate-key/complete", &[])
        .await;
    assert_eq!(res.status(), 200);
    let done = res.text().await.unwrap();
    assert!(done.contains("Key rotation completed"));
    assert_eq!(
        pre(&done, "sql-result-1"),
        "ALTER USER \"JSMITH\" UNSET RSA_PUBLIC_KEY;"
    );
    let keypair = env.app.state.connections.get("bot").unwrap();
    assert_eq!(keypair.keypair.as_ref().unwrap().active.slot, 2);

    // Delete needs the confirmation page's form.
    let confirm = admin.page("/admin/connections/bot/delete").await;
    assert!(confirm.contains("Delete connection bot?"));
    assert!(confirm.contains("action=\"/admin/connections/bot/delete\""));
    let res = admin.post("/admin/connections/bot/delete", &[]).await;
    assert_eq!(res.status(), 200);
    let gone = res.text().await.unwrap();
    assert!(gone.contains("Connection deleted"));
    assert_eq!(
        pre(&gone, "sql-result-1"),
        "ALTER USER \"JSMITH\" UNSET RSA_PUBLIC_KEY_2;"
    );
    assert!(env.app.state.connections.get("bot").is_err());
    assert_eq!(admin.get("/admin/connections/bot").await.status(), 404);
}

//! The web application (issue 14): sessions from tokens, CSRF, scopes answered with 404, the
//! language — over HTTP on both backends; and the supervisor's path through the pages in headless
//! Chromium on a `demo seed --scale 1 --region 34` database, with screenshots of each page at
//! 1366 and 390 px wide written to `$CARGO_TARGET_TMPDIR/screenshots/` (not committed), an
//! axe-core accessibility audit of each page at both widths, the keyboard's skip link, and the
//! print stylesheet (print media emulated, a PDF of the list and of a chart page beside the
//! screenshots).

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use simpul_store::Backend;

use crate::helpers::simpul_binary_async;
use crate::server::TestServer;

/// A browser-like client that follows no redirect, so each answer can be checked.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value of cookie `name` set by a response, with its attributes.
fn set_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
}

fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value)
        .unwrap_or_default()
}

/// The hidden `csrf` field of a page's first form.
fn csrf_of(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a csrf field");
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

pub(crate) struct Signed {
    pub(crate) session: String,
    csrf: String,
}

/// Signs in with `token` the way the form does; the session cookie and the pages' CSRF value.
pub(crate) async fn sign_in(server: &TestServer, token: &str) -> Signed {
    let http = client();
    let form = http
        .get(format!("{}/masuk?next=/kim", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let login = cookie_value(set_cookie(form.headers(), "simpul_masuk").unwrap()).to_owned();
    let html = form.text().await.unwrap();
    let csrf = csrf_of(&html);
    assert_eq!(csrf, login, "the form's value is the cookie's");
    let reply = http
        .post(format!("{}/masuk", server.base))
        .header("cookie", format!("simpul_masuk={login}"))
        .form(&[("token", token), ("csrf", &csrf), ("next", "/kim")])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    assert_eq!(reply.headers()[LOCATION], "/kim");
    let session = set_cookie(reply.headers(), "simpul_sesi").expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    let session = cookie_value(session).to_owned();
    let page = get(server, "/", &session).await;
    assert_eq!(page.0, StatusCode::OK);
    Signed {
        session,
        csrf: csrf_of(&page.1),
    }
}

pub(crate) async fn get(
    server: &TestServer,
    path: &str,
    session: &str,
) -> (StatusCode, String, HeaderMap) {
    let reply = client()
        .get(format!("{}{path}", server.base))
        .header("cookie", format!("simpul_sesi={session}"))
        .send()
        .await
        .unwrap();
    let (status, headers) = (reply.status(), reply.headers().clone());
    (status, reply.text().await.unwrap(), headers)
}

async fn sessions_csrf_and_scopes(server: TestServer) {
    let sleman = server.token("regency", "34.04").await;
    let bantul = server.token("regency", "34.02").await;
    let in_sleman = server.form(&sleman, "34.04.01.2001").await;
    let in_bantul = server.form(&bantul, "34.02.01.2001").await;
    // One more in Sleman, formed today: Beranda's chart of the last 12 months counts it.
    let today = chrono::Utc::now().date_naive();
    let mut formed_today = crate::helpers::form("34.04.01.2005", 10);
    if let simpul_domain::CommunityCommand::FormCommunity(form) = &mut formed_today {
        form.formed_on = today;
    }
    let position = server
        .executor()
        .execute(
            &uuid::Uuid::now_v7().to_string(),
            formed_today,
            &crate::helpers::context(simpul_domain::ActorRole::Regency),
        )
        .await
        .unwrap()
        .position;
    // The pages read the read models as they are: wait until they hold every KIM above.
    let settled = server
        .get(&format!("/communities?min_position={position}"), &sleman)
        .await;
    assert_eq!(settled.status, 200);
    let http = client();

    // Without a session every page sends the visitor to sign in, keeping where it was going.
    let reply = http
        .get(format!("{}/kim?stage=kim1", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        reply.headers()[LOCATION],
        "/masuk?next=%2Fkim%3Fstage%3Dkim1"
    );

    // The sign-in form speaks Indonesian, English on request (remembered), and refuses a post
    // without its anti-forgery value, or with another one.
    let form = http
        .get(format!("{}/masuk", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        form.headers()["content-security-policy"],
        simpul_web::PAGE_CSP
    );
    assert_eq!(form.headers()["cache-control"], "no-store");
    assert!(form.text().await.unwrap().contains(r#"<html lang="id">"#));
    let english = http
        .get(format!("{}/masuk?lang=en", server.base))
        .send()
        .await
        .unwrap();
    assert!(set_cookie(english.headers(), "simpul_bahasa")
        .unwrap()
        .starts_with("simpul_bahasa=en;"));
    assert!(english.text().await.unwrap().contains("API token"));
    let forged = http
        .post(format!("{}/masuk", server.base))
        .header("cookie", "simpul_masuk=one")
        .form(&[("token", sleman.as_str()), ("csrf", "another")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.text().await.unwrap().contains("Formulir ditolak"));

    // An unknown token: the form again, 401, no session.
    let login = http
        .get(format!("{}/masuk", server.base))
        .send()
        .await
        .unwrap();
    let value = cookie_value(set_cookie(login.headers(), "simpul_masuk").unwrap()).to_owned();
    let wrong = http
        .post(format!("{}/masuk", server.base))
        .header("cookie", format!("simpul_masuk={value}"))
        .form(&[("token", "simpul_nope"), ("csrf", value.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(wrong.headers(), "simpul_sesi").is_none());

    // Behind a TLS proxy the session cookie is Secure.
    let login = http
        .get(format!("{}/masuk", server.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let value = cookie_value(set_cookie(login.headers(), "simpul_masuk").unwrap()).to_owned();
    let secure = http
        .post(format!("{}/masuk", server.base))
        .header("cookie", format!("simpul_masuk={value}"))
        .header("x-forwarded-proto", "https")
        .form(&[("token", sleman.as_str()), ("csrf", value.as_str())])
        .send()
        .await
        .unwrap();
    assert!(set_cookie(secure.headers(), "simpul_sesi")
        .unwrap()
        .contains("; Secure"));

    // Signed in as Sleman: its own pages answer; Bantul's region and KIM are 404, as the API's.
    let signed = sign_in(&server, &sleman).await;
    let (_, home, _) = get(&server, "/", &signed.session).await;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
    ][usize::try_from(chrono::Datelike::month0(&today)).unwrap()];
    let this_month = format!(
        r#"<th scope="row">{month} {:02}</th><td class="num">1</td><td class="num">0</td>"#,
        chrono::Datelike::year(&today) % 100
    );
    assert!(home.contains(&this_month), "{this_month}: {home}");
    assert!(
        home.matches("<th scope=\"row\">").count() >= 12,
        "twelve months"
    );
    let (status, html, _) = get(&server, &format!("/kim/{in_sleman}"), &signed.session).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("KIM dibentuk"), "the timeline: {html}");
    // Langkah berikutnya: a KIM only formed needs its three officers, an SK and a nomor induk.
    for step in [
        "Butuh ketua",
        "Butuh sekretaris",
        "Butuh bendahara",
        "Butuh SK kepala desa/lurah",
        "Butuh nomor induk dari Dinas kabupaten/kota",
        "Harus berbadan legal untuk naik ke KIM 2",
        "Butuh 1 kegiatan agen pembangunan untuk KIM 2",
    ] {
        assert!(html.contains(step), "{step}: {html}");
    }
    assert_eq!(
        get(&server, "/wilayah/34.04", &signed.session).await.0,
        StatusCode::OK
    );
    for path in [
        "/wilayah/34.02".to_owned(),
        "/wilayah/34".to_owned(),
        "/wilayah".to_owned(),
        format!("/kim/{in_bantul}"),
        "/kim?region=34.02".to_owned(),
        "/wilayah/99.99".to_owned(),
    ] {
        let (status, html, _) = get(&server, &path, &signed.session).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("Halaman tidak ditemukan"), "{path}: {html}");
    }
    // A bad filter names its field.
    let (status, html, _) = get(&server, "/kim?stage=kim9", &signed.session).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("stage"), "{html}");
    // The attention filters, and the list's downloads with the same filter.
    let (status, html, _) = get(&server, "/kim?missing_sk=true", &signed.session).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&in_sleman), "a KIM without an SK: {html}");
    let (_, html, _) = get(&server, "/kim?missing_sk=false", &signed.session).await;
    assert!(!html.contains(&in_sleman), "{html}");
    let (status, csv, headers) = get(
        &server,
        "/kim/unduh?format=csv&region=34.04&missing_sk=true",
        &signed.session,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"kim-34.04.csv\""
    );
    assert!(csv.starts_with("id,nama_kim,"), "{csv}");
    assert_eq!(
        csv.lines().count(),
        3,
        "a header and Sleman's two KIM: {csv}"
    );
    assert!(csv.contains(&in_sleman));
    let xlsx = client()
        .get(format!("{}/kim/unduh?format=xlsx", server.base))
        .header("cookie", format!("simpul_sesi={}", signed.session))
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), StatusCode::OK);
    assert!(
        xlsx.bytes().await.unwrap().starts_with(b"PK"),
        "a zip (XLSX)"
    );
    for (path, field) in [
        ("/kim/unduh?format=pdf", "format"),
        ("/kim?stalled_months=nol", "stalled_months"),
        ("/kim?stalled_months=0", "stalled_months"),
        ("/kim/unduh?format=csv&region=34.02", ""),
    ] {
        let (status, html, _) = get(&server, path, &signed.session).await;
        if field.is_empty() {
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
            assert!(html.contains(field), "{path}: {html}");
        }
    }
    let (status, html, _) = get(&server, "/?peta=warna", &signed.session).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("peta"), "{html}");

    // Bimtek: one session for many KIM, all or nothing, with the session's CSRF value.
    let (status, html, _) = get(&server, "/bimtek", &signed.session).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!(r#"value="{in_sleman}""#)),
        "Sleman's KIM listed: {html}"
    );
    let post = |fields: Vec<(String, String)>| {
        let http = http.clone();
        let url = format!("{}/bimtek", server.base);
        let cookie = format!("simpul_sesi={}", signed.session);
        async move {
            let reply = http
                .post(url)
                .header("cookie", cookie)
                .form(&fields)
                .send()
                .await
                .unwrap();
            let status = reply.status();
            let location = reply
                .headers()
                .get(LOCATION)
                .map(|l| l.to_str().unwrap().to_owned());
            (status, location, reply.text().await.unwrap())
        }
    };
    let session_fields = |csrf: &str, kim: &[&str]| {
        let mut fields: Vec<(String, String)> = [
            ("csrf", csrf),
            ("region", "34.04"),
            ("kind", "bimtek"),
            ("title", "Bimtek pengelolaan media sosial"),
            ("held_on", "2025-08-27"),
            ("organizer_region", "34.04"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for id in kim {
            fields.push(("kim".to_owned(), (*id).to_owned()));
            fields.push((format!("peserta_{id}"), "5".to_owned()));
        }
        fields
    };
    let (status, _, _) = post(session_fields("guess", &[&in_sleman])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF value, no session");
    // A KIM of another regency in the list: nothing is recorded, and the form says which.
    let (status, _, html) = post(session_fields(&signed.csrf, &[&in_sleman, &in_bantul])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("1 dari 2 KIM tidak dapat mencatat sesi ini"),
        "{html}"
    );
    assert!(html.contains("tidak ditemukan"), "{html}");
    let (_, kim_page, _) = get(&server, &format!("/kim/{in_sleman}"), &signed.session).await;
    assert!(!kim_page.contains("Mengikuti bimtek"), "nothing recorded");
    let (status, location, _) = post(session_fields(&signed.csrf, &[&in_sleman])).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.unwrap().contains("jumlah=1"));
    let (_, kim_page, _) = get(&server, &format!("/kim/{in_sleman}"), &signed.session).await;
    assert_eq!(
        kim_page.matches("Mengikuti bimtek").count(),
        1,
        "{kim_page}"
    );

    // Audit and Status are for admin and auditor: a regency is refused (403), an auditor reads
    // the trail in its scope, filters it, downloads it, and reads the read models' state.
    for path in ["/audit", "/status", "/audit/unduh"] {
        let (status, html, _) = get(&server, path, &signed.session).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("Tidak diizinkan"), "{path}: {html}");
    }
    let auditor = server.token("auditor", "34.04").await;
    let audit = sign_in(&server, &auditor).await;
    let (status, html, _) = get(&server, "/audit", &audit.session).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("/kim/{in_sleman}")),
        "Sleman's KIM: {html}"
    );
    assert!(!html.contains(&in_bantul), "Bantul is outside: {html}");
    assert!(html.contains("Checkpoint ledger terakhir"), "{html}");
    let (status, csv, headers) = get(
        &server,
        &format!("/audit/unduh?type=CommunityFormed&community={in_sleman}"),
        &audit.session,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("posisi,indeks_ledger,waktu,id_kim,"),
        "{csv}"
    );
    assert_eq!(lines.len(), 2, "a header and the formation: {csv}");
    assert!(lines[1].contains(&in_sleman) && lines[1].contains("CommunityFormed"));
    let (status, html, _) = get(&server, "/audit?type=Nothing", &audit.session).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("type"), "{html}");
    let (status, html, _) = get(&server, "/status", &audit.session).await;
    assert_eq!(status, StatusCode::OK);
    for model in simpul_projections::READ_MODELS {
        assert!(html.contains(model), "{model}: {html}");
    }

    // Signing out needs the session's CSRF value; then the session is gone.
    let no_csrf = http
        .post(format!("{}/keluar", server.base))
        .header("cookie", format!("simpul_sesi={}", signed.session))
        .form(&[("csrf", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    assert_eq!(get(&server, "/", &signed.session).await.0, StatusCode::OK);
    let out = http
        .post(format!("{}/keluar", server.base))
        .header("cookie", format!("simpul_sesi={}", signed.session))
        .form(&[("csrf", signed.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(out.headers(), "simpul_sesi")
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        get(&server, "/", &signed.session).await.0,
        StatusCode::SEE_OTHER
    );

    // A revoked token's sessions end with it.
    let signed = sign_in(&server, &bantul).await;
    let tokens = simpul_store::TokenStore::new(server.database());
    let id = tokens
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|token| token.scope == "34.02")
        .unwrap()
        .id;
    assert!(tokens.revoke(id).await.unwrap());
    assert_eq!(
        get(&server, "/", &signed.session).await.0,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_sessions_csrf_and_scopes_on_postgres() {
    sessions_csrf_and_scopes(TestServer::spawn(Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_sessions_csrf_and_scopes_on_sqlite() {
    sessions_csrf_and_scopes(TestServer::spawn(Backend::Sqlite).await).await;
}

/// Signs in with `token` and returns the session, whatever the home page then answers (a KIM's
/// own token is sent on to its KIM).
async fn session_of(server: &TestServer, token: &str) -> String {
    let http = client();
    let form = http
        .get(format!("{}/masuk", server.base))
        .send()
        .await
        .unwrap();
    let login = cookie_value(set_cookie(form.headers(), "simpul_masuk").unwrap()).to_owned();
    let reply = http
        .post(format!("{}/masuk", server.base))
        .header("cookie", format!("simpul_masuk={login}"))
        .form(&[("token", token), ("csrf", login.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    cookie_value(set_cookie(reply.headers(), "simpul_sesi").unwrap()).to_owned()
}

/// DI Yogyakarta's demo (`demo seed --scale 1 --region 34`) in `db`, served, once its read
/// models have applied the whole log.
pub(crate) async fn demo_server(db: crate::helpers::TestDb) -> TestServer {
    let key = simpul_store::MasterKey::generate().to_base64();
    let seeded = simpul_binary_async(
        &[
            "demo",
            "seed",
            "--scale",
            "1",
            "--region",
            "34",
            "--no-projections",
        ],
        &[("DATABASE_URL", &db.url), ("SIMPUL_MASTER_KEY", &key)],
    )
    .await;
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let head = db.store().head().await.unwrap();
    let server = TestServer::on(db).await;
    let admin = server.token("admin", "national").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        // The reads wait (at most 2 s) for the position asked for, else answer 503.
        let reply = server
            .get(&format!("/analytics/trends?min_position={head}"), &admin)
            .await;
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 503, "{:?}", reply.body);
        assert!(
            std::time::Instant::now() < deadline,
            "read models never caught up"
        );
    }
    server
}

/// The API's CSV of the same question (`Accept: text/csv`).
async fn api_csv(server: &TestServer, path: &str, token: &str) -> String {
    let reply = client()
        .get(format!("{}/api/v1{path}", server.base))
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK, "{path}");
    reply.text().await.unwrap()
}

/// The analytics pages (issue 15) on DI Yogyakarta's demo: a province reads each with its
/// chart, the log position and the "< 5" footnote; each page's CSV is the API's for the same
/// question; another province's region is "not found", a bad field is 400 naming it; a KIM's
/// own token is refused; English on request; the analyst reads them too.
async fn analytics_pages(db: crate::helpers::TestDb) {
    let server = demo_server(db).await;
    let province = server.token("province", "34").await;
    let signed = sign_in(&server, &province).await;
    let (_, home, _) = get(&server, "/", &signed.session).await;
    assert!(
        home.contains(r#"<a href="/analitik">Analitik</a>"#),
        "the navigation links the analyses: {home}"
    );
    let pages = [
        ("/analitik", "Analitik"),
        ("/analitik/waktu?cohort=year", "Waktu menuju tahap"),
        (
            "/analitik/waktu?region=34.03&from=kim2&to=kim3",
            "Waktu menuju tahap",
        ),
        ("/analitik/corong", "Corong angkatan"),
        ("/analitik/bimtek?window_days=90", "Efek bimtek"),
        ("/analitik/tren?from=2020-01&to=2025-12", "Tren bulanan"),
        ("/analitik/banding", "Perbandingan wilayah"),
        (
            "/analitik/banding?metric=median_days_kim1_kim2&sort=desc",
            "Perbandingan wilayah",
        ),
    ];
    for (path, title) in pages {
        let (status, html, headers) = get(&server, path, &signed.session).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert_eq!(headers["content-security-policy"], simpul_web::PAGE_CSP);
        assert!(
            html.contains(&format!("<h1>{title}</h1>")),
            "{path}: {html}"
        );
        assert!(
            html.contains("&lt; 5</strong> — kurang dari 5 KIM"),
            "the footnote on small counts: {path}"
        );
        assert!(!html.contains("<script"), "{path}");
        if path == "/analitik" {
            for analysis in ["waktu", "corong", "bimtek", "tren", "banding"] {
                assert!(
                    html.contains(&format!(r#"href="/analitik/{analysis}""#)),
                    "{html}"
                );
            }
            continue;
        }
        // A chart: an SVG image named by its <title> (the page's own <title> is the first).
        assert!(
            html.contains(r#"role="img""#) && html.matches("<title>").count() > 1,
            "a chart with its title: {path}: {html}"
        );
        assert!(html.contains("Dihitung pada posisi log"), "{path}");
        assert!(html.contains("format=csv"), "{path}: the download");
    }
    // Time to KIM 2 by formation year: every KIM and the cohorts, a median in days, the
    // number at risk, censoring explained.
    let (_, html, _) = get(&server, "/analitik/waktu?cohort=year", &signed.session).await;
    assert!(html.contains("KIM 1 → KIM 2"), "{html}");
    assert!(html.contains("disensor"), "{html}");
    assert!(
        html.contains(r#"<th scope="row">2020</th>"#),
        "a cohort row: {html}"
    );
    assert!(html.contains("Berisiko di awal"), "{html}");
    let median = html
        .split(r#"<td class="num median">"#)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default();
    assert!(
        median.starts_with(|c: char| c.is_ascii_digit()) && median.contains('('),
        "every KIM's median in days with its interval: {median}"
    );
    // The comparison's default: the province's kabupaten/kota.
    let (_, html, _) = get(&server, "/analitik/banding", &signed.session).await;
    for name in [
        "Kabupaten Gunungkidul",
        "Kabupaten Sleman",
        "Kota Yogyakarta",
    ] {
        assert!(html.contains(name), "{name}: {html}");
    }

    // Each page's CSV is the read's own: byte for byte the API's answer to the same question.
    for (page, api, filename) in [
        (
            "/analitik/waktu?cohort=year&format=csv",
            "/analytics/time-to-stage?cohort=year",
            "waktu-ke-tahap-34.csv",
        ),
        (
            "/analitik/corong?region=34.03&format=csv",
            "/analytics/funnel?region=34.03",
            "corong-kohort-34.03.csv",
        ),
        (
            "/analitik/bimtek?window_days=90&format=csv",
            "/analytics/bimtek-effect?window_days=90",
            "efek-bimtek-34.csv",
        ),
        (
            "/analitik/tren?from=2024-01&to=2025-12&format=csv",
            "/analytics/trends?from=2024-01-01&to=2025-12-01",
            "tren-bulanan-34.csv",
        ),
        (
            "/analitik/banding?regions=34.04,34.03&metric=legal_share&format=csv",
            "/analytics/compare?regions=34.04,34.03&metric=legal_share",
            "perbandingan-wilayah.csv",
        ),
    ] {
        let (status, csv, headers) = get(&server, page, &signed.session).await;
        assert_eq!(status, StatusCode::OK, "{page}: {csv}");
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8", "{page}");
        assert_eq!(
            headers["content-disposition"],
            format!("attachment; filename=\"{filename}\""),
            "{page}"
        );
        assert_eq!(csv, api_csv(&server, api, &province).await, "{page}");
        assert!(csv.lines().count() > 1, "{page}: {csv}");
    }
    let (_, csv, _) = get(&server, "/analitik/waktu?format=csv", &signed.session).await;
    assert!(
        csv.starts_with("dari,ke,kohort,kim,tercapai,disensor,median_hari,"),
        "{csv}"
    );

    // Outside the scope, or no such region: "not found", as every page answers. A bad field is
    // 400 naming it.
    for path in [
        "/analitik?region=33",
        "/analitik/waktu?region=33",
        "/analitik/corong?region=31.71",
        "/analitik/bimtek?region=34.99",
        "/analitik/tren?region=35",
        "/analitik/banding?regions=34.04,33.01",
        "/analitik/banding?region=32",
    ] {
        let (status, html, _) = get(&server, path, &signed.session).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("Halaman tidak ditemukan"), "{path}: {html}");
    }
    for (path, field) in [
        ("/analitik/waktu?region=tiga-empat", "region"),
        ("/analitik/waktu?cohort=month", "cohort"),
        ("/analitik/waktu?from=kim3&to=kim2", "to"),
        ("/analitik/waktu?as_of=kemarin", "as_of"),
        ("/analitik/bimtek?window_days=0", "window_days"),
        ("/analitik/tren?from=Maret", "from"),
        ("/analitik/banding?metric=terbaik", "metric"),
        ("/analitik/corong?format=pdf", "format"),
    ] {
        let (status, html, _) = get(&server, path, &signed.session).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(html.contains(field), "{path}: {html}");
    }

    // English on request.
    let (status, html, _) = get(&server, "/analitik/waktu?lang=en", &signed.session).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<html lang="en">"#));
    assert!(html.contains("<h1>Time to stage</h1>"), "{html}");
    assert!(html.contains("Computed at log position"), "{html}");
    assert!(html.contains("fewer than 5 KIM"), "{html}");
    let (_, html, _) = get(&server, "/analitik/bimtek?lang=en", &signed.session).await;
    assert!(html.contains("<h1>Bimtek effect</h1>"), "{html}");

    // A KIM's own token (pegiat) reads no aggregate: refused, and not offered in its navigation.
    let list = server
        .get("/communities?region=34&limit=1", &province)
        .await;
    let kim = list.body["items"][0]["community_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pegiat = session_of(&server, &server.token("pegiat", &kim).await).await;
    let (status, html, _) = get(&server, "/kim", &pegiat).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(&kim), "its KIM: {html}");
    assert!(!html.contains("/analitik"), "{html}");
    for path in [
        "/analitik",
        "/analitik/waktu",
        "/analitik/corong",
        "/analitik/bimtek",
        "/analitik/tren",
        "/analitik/banding",
        "/analitik/waktu?format=csv",
    ] {
        let (status, html, _) = get(&server, path, &pegiat).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("Tidak diizinkan"), "{path}: {html}");
    }

    // The analyst reads the same pages in its scope.
    let analyst = sign_in(&server, &server.token("analyst", "34.04").await).await;
    let (status, html, _) = get(&server, "/analitik/bimtek", &analyst.session).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains(r#"<a href="/analitik">Analitik</a>"#),
        "{html}"
    );
    let (status, _, _) = get(&server, "/analitik/waktu?region=34.03", &analyst.session).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another kabupaten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_analytics_pages_on_postgres() {
    analytics_pages(crate::helpers::TestDb::new(Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_analytics_pages_on_sqlite() {
    analytics_pages(crate::helpers::TestDb::new(Backend::Sqlite).await).await;
}

mod browser {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Child, Command, Stdio};

    use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
    use fantoccini::key::Key;
    use fantoccini::wd::{PrintConfiguration, PrintSize, TimeoutConfiguration};
    use fantoccini::{Client, ClientBuilder, Locator};
    use serde_json::{json, Value};

    use super::*;

    /// Where the test's artefacts go: screenshots and PDFs (not committed).
    fn artefacts() -> std::path::PathBuf {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The axe-core version `.ci/run` installs (keep the two in step).
    const AXE_CORE: &str = "axe-core@4.14.1";

    /// axe-core's `axe.min.js`: `SIMPUL_AXE_JS`, else where `.ci/run` (or the test itself, on its
    /// first run, when npm is there) installs it with npm,
    /// `<target dir>/axe/node_modules/axe-core/axe.min.js` (it is not in the repository).
    fn axe_path() -> std::path::PathBuf {
        match std::env::var_os("SIMPUL_AXE_JS") {
            Some(path) => path.into(),
            None => axe_prefix().join("node_modules/axe-core/axe.min.js"),
        }
    }

    /// `<target dir>/axe`: `CARGO_TARGET_TMPDIR` is `<target dir>/tmp`.
    fn axe_prefix() -> std::path::PathBuf {
        let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        tmp.parent().unwrap_or(tmp).join("axe")
    }

    /// The WCAG 2.0 and 2.1 A and AA rules of axe-core, run in every page the test visits.
    struct Axe {
        source: String,
        /// Each violation found: page, width, rule, impact, the elements.
        found: Vec<String>,
        audited: usize,
    }

    impl Axe {
        fn load() -> Self {
            let path = axe_path();
            if !path.exists() && std::env::var_os("SIMPUL_AXE_JS").is_none() {
                // First run on this machine: install it as `.ci/run` does (npm's registry).
                let installed = std::process::Command::new("npm")
                    .args([
                        "install",
                        "--no-save",
                        "--no-audit",
                        "--no-fund",
                        "--prefix",
                    ])
                    .arg(axe_prefix())
                    .arg(AXE_CORE)
                    .status();
                eprintln!(
                    "axe-core: npm install into {}: {installed:?}",
                    axe_prefix().display()
                );
            }
            let source = std::fs::read_to_string(&path).unwrap_or_else(|error| {
                panic!(
                    "the browser test audits each page with axe-core, which is not in the \
                     repository, and found none at {} ({error}). Install it where the test \
                     looks when SIMPUL_AXE_JS is not set:\n    npm install --no-save --prefix \
                     {} {AXE_CORE}\n(.ci/run does), or point SIMPUL_AXE_JS at an axe.min.js",
                    path.display(),
                    axe_prefix().display(),
                )
            });
            assert!(source.contains("axe"), "{}: not axe-core", path.display());
            Axe {
                source,
                found: Vec::new(),
                audited: 0,
            }
        }

        /// Runs the audit in the page shown, named `page` in the findings.
        async fn audit(&mut self, browser: &Client, page: &str) {
            let loaded = browser
                .execute("return typeof window.axe === 'object';", vec![])
                .await
                .unwrap();
            if loaded != Value::Bool(true) {
                browser.execute(&self.source, vec![]).await.unwrap();
            }
            let answer = browser
                .execute_async(
                    r#"const done = arguments[arguments.length - 1];
                    axe.run(document, {
                        runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
                        resultTypes: ['violations'],
                    }).then(results => done({passes: results.passes.length,
                        violations: results.violations.map(v => ({
                        id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => ({
                            target: n.target.join(' '),
                            why: [...n.any, ...n.all, ...n.none].map(c => c.message).filter(m => m)[0] || '',
                        })),
                    }))}), error => done({error: String(error)}));"#,
                    vec![],
                )
                .await
                .unwrap();
            assert!(answer["error"].is_null(), "axe in {page}: {answer}");
            assert!(
                answer["passes"].as_u64().unwrap_or(0) > 0,
                "axe checked nothing in {page}: {answer}"
            );
            let url = browser.current_url().await.unwrap();
            let at = match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            };
            for violation in answer["violations"].as_array().unwrap() {
                let mut finding = format!(
                    "{page} ({at}): {} [{}] {}",
                    violation["id"].as_str().unwrap_or_default(),
                    violation["impact"].as_str().unwrap_or_default(),
                    violation["help"].as_str().unwrap_or_default(),
                );
                let nodes = violation["nodes"].as_array().unwrap();
                for node in nodes.iter().take(5) {
                    finding.push_str(&format!(
                        "\n      {} — {}",
                        node["target"].as_str().unwrap_or_default(),
                        node["why"].as_str().unwrap_or_default()
                    ));
                }
                if nodes.len() > 5 {
                    finding.push_str(&format!("\n      … and {} more", nodes.len() - 5));
                }
                self.found.push(finding);
            }
            self.audited += 1;
        }

        fn assert_clean(&self) {
            assert!(
                self.found.is_empty(),
                "axe-core found {} WCAG 2.1 A/AA violations in {} audits:\n  {}",
                self.found.len(),
                self.audited,
                self.found.join("\n  ")
            );
        }
    }

    /// A key pressed and released on the page.
    async fn press(browser: &Client, key: Key) {
        let key: char = key.into();
        browser
            .perform_actions(
                KeyActions::new("keyboard".to_owned())
                    .then(KeyAction::Down { value: key })
                    .then(KeyAction::Up { value: key }),
            )
            .await
            .unwrap();
    }

    /// What has the focus: tag, text, link, and how its focus is drawn.
    async fn focused(browser: &Client) -> Value {
        browser
            .execute(
                r#"const e = document.activeElement, s = getComputedStyle(e),
                    r = e.getBoundingClientRect();
                return {tag: e.tagName, text: e.textContent.trim(), href: e.getAttribute('href'),
                    focusVisible: e.matches(':focus-visible'), outline: s.outlineStyle,
                    outlineWidth: parseFloat(s.outlineWidth), left: r.left, top: r.top,
                    width: r.width, height: r.height, inMain: e.closest('main') !== null};"#,
                vec![],
            )
            .await
            .unwrap()
    }

    /// From the top of the page shown, Tab reaches the skip link `text` first, drawn on screen
    /// with a visible focus outline (screenshot `<name>-fokus.png`); Enter follows it, and the
    /// next Tab is inside `main`, focus drawn too (`<name>-fokus-isi.png`).
    async fn skip_link_first(browser: &Client, text: &str, name: &str) {
        press(browser, Key::Tab).await;
        let png = browser.screenshot().await.unwrap();
        std::fs::write(artefacts().join(format!("{name}-fokus.png")), png).unwrap();
        let skip = focused(browser).await;
        assert_eq!(skip["tag"], "A", "the first Tab: {skip}");
        assert_eq!(skip["text"], text, "{skip}");
        assert_eq!(skip["href"], "#isi", "{skip}");
        assert_eq!(skip["focusVisible"], true, "{skip}");
        assert!(
            skip["outline"] != "none" && skip["outlineWidth"].as_f64().unwrap_or(0.0) >= 2.0,
            "a visible focus outline: {skip}"
        );
        assert!(
            skip["left"].as_f64().unwrap_or(-1.0) >= 0.0
                && skip["top"].as_f64().unwrap_or(-1.0) >= 0.0
                && skip["width"].as_f64().unwrap_or(0.0) > 0.0,
            "the focused skip link is on screen: {skip}"
        );
        press(browser, Key::Enter).await;
        press(browser, Key::Tab).await;
        let png = browser.screenshot().await.unwrap();
        std::fs::write(artefacts().join(format!("{name}-fokus-isi.png")), png).unwrap();
        let next = focused(browser).await;
        assert_eq!(next["inMain"], true, "after the skip link: {next}");
        assert_eq!(next["focusVisible"], true, "{next}");
        assert!(
            next["outline"] != "none" && next["outlineWidth"].as_f64().unwrap_or(0.0) >= 2.0,
            "a visible focus outline: {next}"
        );
    }

    /// The page's language, as its `<html lang>` says.
    async fn page_lang(browser: &Client) -> Value {
        browser
            .execute("return document.documentElement.lang;", vec![])
            .await
            .unwrap()
    }

    /// A Chrome DevTools command, through chromedriver's `goog/cdp/execute`.
    #[derive(Debug)]
    struct Cdp {
        cmd: &'static str,
        params: Value,
    }

    impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
        fn endpoint(
            &self,
            base_url: &url::Url,
            session_id: Option<&str>,
        ) -> Result<url::Url, url::ParseError> {
            base_url.join(&format!(
                "session/{}/goog/cdp/execute",
                session_id.unwrap_or_default()
            ))
        }

        fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
            let body = json!({"cmd": self.cmd, "params": self.params});
            (http::Method::POST, Some(body.to_string()))
        }
    }

    /// The page as media `print` (or `""`, the screen again) shows it.
    async fn emulate_media(browser: &Client, media: &str) {
        browser
            .issue_cmd(Cdp {
                cmd: "Emulation.setEmulatedMedia",
                params: json!({"media": media}),
            })
            .await
            .unwrap();
    }

    /// The width an A4 page leaves for the content with the print margins of 1 cm: 19 cm at
    /// 96 px an inch.
    const PRINT_WIDTH: u32 = 718;

    /// The page shown, printed: with print media emulated at an A4 page's width, what `hidden`
    /// selects is not displayed (every element of it), what `kept` selects is displayed, not
    /// empty and not clipped (no wider than the page, and its container does not scroll), and
    /// the page itself does not scroll sideways. The PDF of the page (WebDriver's Print Page,
    /// A4, not shrunk to fit) is written as `<name>.pdf` beside the screenshots.
    async fn printed(browser: &Client, name: &str, hidden: &[&str], kept: &[&str]) {
        browser.set_window_size(PRINT_WIDTH, 1000).await.unwrap();
        emulate_media(browser, "print").await;
        let seen = browser
            .execute(
                r#"const [hidden, kept] = arguments;
                const page = document.documentElement.clientWidth;
                const shown = e => getComputedStyle(e).display !== 'none' && e.getClientRects().length > 0;
                const clipped = e => {
                    for (let a = e; a && a !== document.body; a = a.parentElement) {
                        const s = getComputedStyle(a);
                        if (a.scrollWidth > a.clientWidth + 1 && a.clientWidth > 0
                            && s.overflowX !== 'visible') return a.tagName + '.' + a.className;
                    }
                    return null;
                };
                return {
                    print: matchMedia('print').matches,
                    page,
                    pageScroll: document.documentElement.scrollWidth,
                    hidden: hidden.map(css => ({css, count: document.querySelectorAll(css).length,
                        shown: [...document.querySelectorAll(css)].filter(shown).length})),
                    kept: kept.map(css => {
                        const e = document.querySelector(css);
                        if (!e) return {css, found: false};
                        const r = e.getBoundingClientRect();
                        return {css, found: true, shown: shown(e), left: r.left, right: r.right,
                            width: r.width, height: r.height, clippedBy: clipped(e)};
                    }),
                };"#,
                vec![json!(hidden), json!(kept)],
            )
            .await
            .unwrap();
        emulate_media(browser, "").await;
        browser.set_window_size(1366, 768).await.unwrap();
        // The PDF first: it is there to look at when a check below fails.
        let pdf = browser
            .print(
                PrintConfiguration::builder()
                    .size(PrintSize::A4)
                    .shrink_to_fit(false)
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
        assert!(pdf.starts_with(b"%PDF"), "{name}: a PDF");
        std::fs::write(artefacts().join(format!("{name}.pdf")), pdf).unwrap();
        assert_eq!(seen["print"], true, "print media emulated: {seen}");
        let page = seen["page"].as_f64().unwrap();
        assert!(page <= f64::from(PRINT_WIDTH), "{seen}");
        for item in seen["hidden"].as_array().unwrap() {
            assert!(item["count"].as_u64().unwrap() > 0, "{name}: no {item}");
            assert_eq!(item["shown"], 0, "{name}: printed although hidden: {item}");
        }
        for item in seen["kept"].as_array().unwrap() {
            assert_eq!(item["found"], true, "{name}: {item}");
            assert_eq!(item["shown"], true, "{name}: not printed: {item}");
            assert!(
                item["width"].as_f64().unwrap() > 0.0 && item["height"].as_f64().unwrap() > 0.0,
                "{name}: printed empty: {item}"
            );
            assert!(
                item["left"].as_f64().unwrap() >= -0.5
                    && item["right"].as_f64().unwrap() <= page + 0.5,
                "{name}: wider than the page ({page} px): {item}"
            );
            assert!(item["clippedBy"].is_null(), "{name}: clipped: {item}");
        }
        assert!(
            seen["pageScroll"].as_f64().unwrap() <= page + 0.5,
            "{name}: the printed page is wider than the paper: {seen}"
        );
    }

    /// chromedriver on a free port, stopped when dropped.
    struct Driver {
        child: Child,
        url: String,
    }

    impl Drop for Driver {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn start_driver() -> Driver {
        let binary =
            std::env::var("SIMPUL_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "the browser tests need Chromium and ChromeDriver ({binary}: {error}); \
                     on Debian: apt-get install chromium chromium-driver (.ci/run does)"
                )
            });
        // It says when it listens.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 {
            if line.contains("started successfully") {
                break;
            }
            line.clear();
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn browser(driver: &Driver) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": std::env::var("SIMPUL_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1366,768", "--lang=id"],
                // An Indonesian browser: its Accept-Language chooses the pages' language.
                "prefs": {"intl.accept_languages": "id-ID,id"},
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("a Chromium session")
    }

    /// Screenshots of the page at 1366×768 and 390×844, as test artefacts, and the
    /// accessibility audit at each width.
    async fn screenshots(browser: &Client, axe: &mut Axe, name: &str) {
        let dir = artefacts();
        for (width, height) in [(1366, 768), (390, 844)] {
            browser.set_window_size(width, height).await.unwrap();
            let png = browser.screenshot().await.unwrap();
            assert!(png.starts_with(b"\x89PNG"), "a PNG");
            std::fs::write(dir.join(format!("{name}-{width}.png")), png).unwrap();
            axe.audit(browser, &format!("{name}-{width}")).await;
        }
        browser.set_window_size(1366, 768).await.unwrap();
    }

    /// Screenshots at both widths with the element `css` (a chart below the fold) scrolled to
    /// the top of the window.
    async fn screenshots_at(browser: &Client, css: &str, name: &str) {
        let dir = artefacts();
        for (width, height) in [(1366, 768), (390, 844)] {
            browser.set_window_size(width, height).await.unwrap();
            browser
                .execute(
                    "document.querySelector(arguments[0]).scrollIntoView();",
                    vec![json!(css)],
                )
                .await
                .unwrap();
            let png = browser.screenshot().await.unwrap();
            assert!(png.starts_with(b"\x89PNG"), "a PNG");
            std::fs::write(dir.join(format!("{name}-{width}.png")), png).unwrap();
        }
        browser.set_window_size(1366, 768).await.unwrap();
    }

    async fn text(browser: &Client, css: &str) -> String {
        browser
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("{css}: {error}"))
            .text()
            .await
            .unwrap()
    }

    /// Waits for the page whose heading is `title` (a click's navigation may still be under
    /// way when the click returns); fails after fantoccini's default wait.
    async fn page_titled(browser: &Client, title: &str) {
        browser
            .wait()
            .for_element(Locator::XPath(&format!(
                "//main/h1[normalize-space()='{title}']"
            )))
            .await
            .unwrap_or_else(|error| panic!("a page titled {title}: {error}"));
    }

    /// The total in the row of the child region named `name`.
    async fn row_total(browser: &Client, name: &str) -> String {
        let row = browser
            .find(Locator::XPath(&format!(
                "//tbody/tr[th/a[text()='{name}']]"
            )))
            .await
            .unwrap_or_else(|error| panic!("a row for {name}: {error}"));
        row.find(Locator::Css("td.num"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn sign_in_as(browser: &Client, base: &str, token: &str) {
        browser.goto(&format!("{base}/masuk")).await.unwrap();
        browser
            .find(Locator::Id("token"))
            .await
            .unwrap()
            .send_keys(token)
            .await
            .unwrap();
        browser
            .find(Locator::Css("form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_province_supervisor_drills_down_to_a_kim_in_chromium() {
        // Before anything slow: without axe-core the test fails at once, saying how to get it.
        let mut axe = Axe::load();
        let server = TestServer::spawn(Backend::Postgres).await;
        let data = tempfile::tempdir().unwrap();
        let seeded = simpul_binary_async(
            &[
                "demo", "seed", "--scale", "1", "--seed", "1", "--region", "34",
            ],
            &[
                ("DATABASE_URL", server.url()),
                ("SIMPUL_DATA_DIR", data.path().to_str().unwrap()),
            ],
        )
        .await;
        assert!(
            seeded.status.success(),
            "{}",
            String::from_utf8_lossy(&seeded.stderr)
        );
        let province = server.token("province", "34").await;
        let regency = server.token("regency", "34.03").await;
        let auditor = server.token("auditor", "34").await;
        // Every read model has the seed before the pages are looked at.
        let settled = server.get("/dashboard/stages?region=34", &province).await;
        assert_eq!(settled.status, 200);

        let driver = start_driver();
        let browser = browser(&driver).await;
        // An audit takes under a second here, more on a slow machine: 120 s, not the default 30.
        browser
            .update_timeouts(TimeoutConfiguration::new(
                Some(std::time::Duration::from_secs(120)),
                None,
                None,
            ))
            .await
            .unwrap();
        let base = server.base.clone();
        let run = async {
            // The sign-in page, in both languages.
            browser
                .goto(&format!("{base}/masuk?lang=en"))
                .await
                .unwrap();
            page_titled(&browser, "Sign in").await;
            assert_eq!(page_lang(&browser).await, "en");
            screenshots(&browser, &mut axe, "masuk-en").await;
            browser
                .goto(&format!("{base}/masuk?lang=id"))
                .await
                .unwrap();
            page_titled(&browser, "Masuk").await;
            assert_eq!(page_lang(&browser).await, "id");
            screenshots(&browser, &mut axe, "masuk").await;
            skip_link_first(&browser, "Langsung ke isi", "masuk").await;
            sign_in_as(&browser, &base, &province).await;
            page_titled(&browser, "Beranda").await;
            assert_eq!(row_total(&browser, "Kabupaten Gunungkidul").await, "142");
            assert_eq!(row_total(&browser, "Kota Yogyakarta").await, "0");
            // The province's map: its five kabupaten/kota, each a link with its figure.
            let regions = browser.find_all(Locator::Css("svg.map a")).await.unwrap();
            assert_eq!(regions.len(), 5);
            let gunungkidul = browser
                .find(Locator::Css("svg.map a[href='/wilayah/34.03'] title"))
                .await
                .unwrap();
            assert_eq!(
                gunungkidul.prop("textContent").await.unwrap().as_deref(),
                Some("Kabupaten Gunungkidul: 142 KIM")
            );
            screenshots(&browser, &mut axe, "beranda").await;
            // The keyboard: from the top, Tab reaches the skip link first, focus drawn.
            browser.goto(&format!("{base}/")).await.unwrap();
            page_titled(&browser, "Beranda").await;
            skip_link_first(&browser, "Langsung ke isi", "beranda").await;
            browser.goto(&format!("{base}/?peta=kim3")).await.unwrap();
            page_titled(&browser, "Beranda").await;
            assert!(text(&browser, "section.map-section h2")
                .await
                .contains("tahap 3 atau 4"));
            screenshots(&browser, &mut axe, "beranda-peta-kim3").await;
            screenshots_at(&browser, "section.map-section", "beranda-peta-kim3-peta").await;

            // Down to Gunungkidul, then its first kecamatan, whose desa are listed.
            browser
                .find(Locator::LinkText("Kabupaten Gunungkidul"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            page_titled(&browser, "Kabupaten Gunungkidul").await;
            assert_eq!(text(&browser, "main h2").await, "Kecamatan");
            screenshots(&browser, &mut axe, "wilayah-kabupaten").await;
            let kecamatan = browser.find(Locator::Css("tbody tr th a")).await.unwrap();
            let name = kecamatan.text().await.unwrap();
            kecamatan.click().await.unwrap();
            page_titled(&browser, &name).await;
            assert_eq!(text(&browser, "main h2").await, "Desa/kelurahan");
            screenshots(&browser, &mut axe, "wilayah-kecamatan").await;

            // The list of Gunungkidul's KIM, then one KIM and its timeline.
            browser
                .goto(&format!("{base}/kim?region=34.03"))
                .await
                .unwrap();
            screenshots(&browser, &mut axe, "daftar-kim").await;
            // Printed: no navigation, filters, downloads, pager or buttons; the table whole.
            printed(
                &browser,
                "daftar-kim",
                &[
                    "header.top nav",
                    "header.top .who",
                    "form.filters",
                    "p.downloads",
                    "button",
                    "a.skip",
                ],
                &["main h1", "main table"],
            )
            .await;
            // Gunungkidul's KIM without an SK, by ticking the filter: the page that answers links
            // its downloads with the filter.
            let all_rows = browser
                .find_all(Locator::Css("tbody tr"))
                .await
                .unwrap()
                .len();
            browser
                .find(Locator::Css("input[name=missing_sk]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            browser
                .find(Locator::Css("form.filters button[type=submit]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            browser
                .wait()
                .for_element(Locator::Css("p.downloads a[href*='missing_sk=true']"))
                .await
                .unwrap();
            let without_sk = browser
                .find_all(Locator::Css("tbody tr"))
                .await
                .unwrap()
                .len();
            assert!(
                0 < without_sk && without_sk < all_rows,
                "{without_sk} of {all_rows}"
            );
            screenshots(&browser, &mut axe, "daftar-kim-tanpa-sk").await;
            browser
                .goto(&format!("{base}/kim?region=34.03"))
                .await
                .unwrap();
            browser
                .find(Locator::Css("tbody tr th a"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            browser
                .wait()
                .for_element(Locator::Css("ol.timeline"))
                .await
                .unwrap();
            let timeline = browser
                .find_all(Locator::Css("ol.timeline > li"))
                .await
                .unwrap();
            assert!(!timeline.is_empty(), "a timeline");
            assert!(text(&browser, "ol.timeline > li")
                .await
                .contains("KIM dibentuk"));
            screenshots(&browser, &mut axe, "kim").await;

            // Analitik, from the navigation: time to KIM 2 by formation year, then the bimtek
            // effect, each a chart with its figures.
            browser.goto(&format!("{base}/")).await.unwrap();
            page_titled(&browser, "Beranda").await;
            browser
                .find(Locator::LinkText("Analitik"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            page_titled(&browser, "Analitik").await;
            screenshots(&browser, &mut axe, "analitik").await;
            browser
                .goto(&format!("{base}/analitik/waktu?cohort=year"))
                .await
                .unwrap();
            page_titled(&browser, "Waktu menuju tahap").await;
            assert_eq!(
                text(&browser, "figure.plot figcaption").await,
                "KIM 1 → KIM 2: bagian KIM yang sudah mencapai KIM 2, menurut hari sejak masuk KIM 1"
            );
            let chart = browser
                .find(Locator::Css("figure.plot svg[role=img]"))
                .await
                .unwrap();
            let (_, _, width, height) = chart.rectangle().await.unwrap();
            assert!(width > 300.0 && height > 100.0, "drawn: {width}×{height}");
            let median = text(&browser, "table.groups tbody tr td.median").await;
            assert!(
                median.starts_with(|c: char| c.is_ascii_digit()) && median.contains('('),
                "every KIM's median with its interval: {median}"
            );
            assert!(
                browser
                    .find_all(Locator::Css("table.groups tbody tr"))
                    .await
                    .unwrap()
                    .len()
                    > 2,
                "every KIM and its cohorts"
            );
            screenshots(&browser, &mut axe, "analitik-waktu").await;
            screenshots_at(&browser, "figure.plot", "analitik-waktu-grafik").await;
            printed(
                &browser,
                "analitik-waktu",
                &[
                    "header.top nav",
                    "header.top .who",
                    "nav.subnav",
                    "form.filters",
                    "p.downloads",
                    "button",
                ],
                &["figure.plot", "figure.plot svg", "table.groups"],
            )
            .await;
            browser
                .goto(&format!("{base}/analitik/bimtek"))
                .await
                .unwrap();
            page_titled(&browser, "Efek bimtek").await;
            assert!(text(&browser, "figure.plot figcaption")
                .await
                .starts_with("Rasio laju kenaikan tahap: 180 hari setelah bimtek"));
            let ratio = text(&browser, "table.effects tbody tr td.ratio").await;
            assert!(
                ratio.starts_with(|c: char| c.is_ascii_digit()) && ratio.contains('('),
                "the overall rate ratio with its interval: {ratio}"
            );
            screenshots(&browser, &mut axe, "analitik-bimtek").await;
            screenshots_at(&browser, "figure.plot", "analitik-bimtek-grafik").await;
            // The other analyses, for the audit.
            for (path, title, name) in [
                ("/analitik/corong", "Corong angkatan", "analitik-corong"),
                ("/analitik/tren", "Tren bulanan", "analitik-tren"),
                (
                    "/analitik/banding",
                    "Perbandingan wilayah",
                    "analitik-banding",
                ),
            ] {
                browser.goto(&format!("{base}{path}")).await.unwrap();
                page_titled(&browser, title).await;
                screenshots(&browser, &mut axe, name).await;
            }

            // English on request; its skip link too.
            browser.goto(&format!("{base}/?lang=en")).await.unwrap();
            page_titled(&browser, "Home").await;
            assert_eq!(page_lang(&browser).await, "en");
            screenshots(&browser, &mut axe, "home-en").await;
            browser
                .goto(&format!("{base}/kim?region=34.03&lang=en"))
                .await
                .unwrap();
            page_titled(&browser, "KIM list").await;
            screenshots(&browser, &mut axe, "kim-list-en").await;
            browser.goto(&format!("{base}/")).await.unwrap();
            page_titled(&browser, "Home").await;
            skip_link_first(&browser, "Skip to content", "home-en").await;
            browser.goto(&format!("{base}/?lang=id")).await.unwrap();
            page_titled(&browser, "Beranda").await;

            // A form stripped of its CSRF value is refused.
            browser
                .execute(
                    "document.querySelector('form.inline input[name=csrf]').remove();",
                    vec![],
                )
                .await
                .unwrap();
            browser
                .find(Locator::Css("form.inline button"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            page_titled(&browser, "Formulir ditolak").await;
            screenshots(&browser, &mut axe, "formulir-ditolak").await;

            // A regency's token: another regency's page is "not found".
            browser.delete_all_cookies().await.unwrap();
            sign_in_as(&browser, &base, &regency).await;
            page_titled(&browser, "Beranda").await;
            browser
                .goto(&format!("{base}/wilayah/34.04"))
                .await
                .unwrap();
            page_titled(&browser, "Halaman tidak ditemukan").await;
            screenshots(&browser, &mut axe, "tidak-ditemukan").await;
            // The regency's bimtek form lists its active KIM.
            browser.goto(&format!("{base}/bimtek")).await.unwrap();
            page_titled(&browser, "Catat bimtek").await;
            assert!(!browser
                .find_all(Locator::Css("input[name=kim]"))
                .await
                .unwrap()
                .is_empty());
            screenshots(&browser, &mut axe, "bimtek").await;

            // An auditor's Audit and Status pages.
            browser.delete_all_cookies().await.unwrap();
            sign_in_as(&browser, &base, &auditor).await;
            page_titled(&browser, "Beranda").await;
            browser.goto(&format!("{base}/audit")).await.unwrap();
            page_titled(&browser, "Jejak audit").await;
            assert!(!browser
                .find_all(Locator::Css("tbody tr"))
                .await
                .unwrap()
                .is_empty());
            screenshots(&browser, &mut axe, "audit").await;
            browser.goto(&format!("{base}/status")).await.unwrap();
            page_titled(&browser, "Status sistem").await;
            screenshots(&browser, &mut axe, "status").await;
        };
        run.await;
        browser.close().await.unwrap();
        axe.assert_clean();
    }
}

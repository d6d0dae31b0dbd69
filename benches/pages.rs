//! The web application's pages at national scale (issue 14: every page p99 < 100 ms at scale 10),
//! PostgreSQL: `demo seed --scale N` (default 10), every read model rebuilt, then the server
//! (`simpul_http::app_with_pages`, as `simpul serve`) on a local port and 100 requests of each page
//! over HTTP with a signed-in session, one at a time; each page against the JSON read of the same
//! data in the same run (the baseline: what the page adds is rendering, the map, the chart, the
//! session lookup).
//!
//! Run: `SIMPUL_BENCH_SCALE=10 cargo bench --bench pages`; `SIMPUL_TEST_DATABASE_URL` names the
//! server; the bench creates and drops its database.

use std::sync::Arc;
use std::time::Instant;

use simpul_app::demo::{seed, BulkSeeder};
use simpul_demo::DemoConfig;
use simpul_domain::CommunityServices;
use simpul_http::AppState;
use simpul_projections::Runner;
use simpul_store::{Database, DatabaseUrl, EventStore, KeyStore, MasterKey, TokenStore};

#[path = "common.rs"]
mod common;

const ROUNDS: usize = 100;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let scale: u32 = std::env::var("SIMPUL_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    // A database seeded beforehand (`simpul demo seed --scale N --no-projections`): only the read
    // models are rebuilt. Otherwise a new database, seeded here and dropped afterwards.
    if let Ok(url) = std::env::var("SIMPUL_BENCH_SEEDED_URL") {
        return bench(&url, scale, false).await;
    }
    common::with_database("simpul_pages", |url| async move {
        bench(&url, scale, true).await
    })
    .await
}

/// A signed-in client: the session cookie of `token`.
async fn session(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let form = http.get(format!("{base}/masuk")).send().await?;
    let cookie = |response: &reqwest::Response, name: &str| -> anyhow::Result<String> {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no {name} cookie"))
    };
    let login = cookie(&form, "simpul_masuk")?;
    let signed = http
        .post(format!("{base}/masuk"))
        .header("cookie", format!("simpul_masuk={login}"))
        .form(&[("token", token), ("csrf", login.as_str())])
        .send()
        .await?;
    cookie(&signed, "simpul_sesi")
}

/// p50 and p99 of `ROUNDS` GETs of `path` (after one unmeasured request).
/// `ROUNDS` requests of `path` after one unmeasured: (p50 ms, p99 ms, bytes). A path with
/// `{as_of}` asks each request as of another day (the demo's last day, then a day earlier each
/// round), so an answer kept for an earlier request never serves it: the cold path.
/// `{as_of_1y}` and `{as_of_2y}` do the same a year and two years earlier, so that two cold
/// measurements of one question do not serve each other either.
async fn measure(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    auth: (&str, &str),
) -> anyhow::Result<(f64, f64, usize)> {
    let mut times = Vec::with_capacity(ROUNDS);
    let mut bytes = 0;
    for round in 0..=ROUNDS {
        let mut path = path.to_owned();
        for (tag, years) in [("{as_of}", 0), ("{as_of_1y}", 1), ("{as_of_2y}", 2)] {
            let as_of = simpul_demo::DEFAULT_UNTIL - chrono::Days::new(365 * years + round as u64);
            path = path.replace(tag, &as_of.to_string());
        }
        let started = Instant::now();
        let response = http
            .get(format!("{base}{path}"))
            .header(auth.0, auth.1)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(status.is_success(), "{path}: {status}");
        if round > 0 {
            times.push(elapsed);
            bytes = body.len();
        }
    }
    Ok((
        common::percentile(&mut times, 0.5),
        common::percentile(&mut times, 0.99),
        bytes,
    ))
}

async fn bench(url: &str, scale: u32, seeding: bool) -> anyhow::Result<()> {
    let db = Database::connect_and_migrate(&DatabaseUrl::parse(url)?).await?;
    anyhow::ensure!(matches!(db, Database::Postgres(_)), "PostgreSQL only");
    let regions = simpul_regions::bundled()?;
    let services = CommunityServices::new(Arc::new(regions));
    let store = EventStore::new(db.clone());
    let keys = KeyStore::new(db.clone(), MasterKey::generate());
    let started = Instant::now();
    let events = if seeding {
        let config = DemoConfig::new(scale, 1, simpul_demo::DEFAULT_UNTIL)?;
        let mut seeder = BulkSeeder::new(store.clone(), keys.clone(), services, config);
        seed(&mut seeder, regions, None, &|_, _| {})
            .await?
            .written
            .events
    } else {
        store.count().await?
    };
    let runner = Runner::new(store.clone());
    for projection in simpul_projections::all(regions) {
        runner.rebuild(projection.as_ref(), &|_, _| {}).await?;
    }
    eprintln!(
        "scale {scale}: {events} events seeded and projected in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // The busiest province and, in it, the busiest kabupaten/kota and kecamatan; one KIM there.
    let state = AppState::new(db.clone(), keys, regions);
    let operator = simpul_app::Principal::operator();
    let national = state.reads.dashboard(&operator, None).await?;
    let busiest = |rows: &[simpul_app::Totals]| {
        rows.iter()
            .max_by_key(|row| row.total)
            .and_then(|row| row.code.clone())
            .ok_or_else(|| anyhow::anyhow!("no KIM"))
    };
    let province = busiest(&national.children)?;
    let code = |text: &str| simpul_domain::RegionCode::parse(text);
    let regency = busiest(
        &state
            .reads
            .dashboard(&operator, Some(&code(&province)?))
            .await?
            .children,
    )?;
    let district = busiest(
        &state
            .reads
            .dashboard(&operator, Some(&code(&regency)?))
            .await?
            .children,
    )?;
    let kim = state
        .reads
        .communities(
            &operator,
            simpul_app::CommunityQuery {
                region: Some(code(&district)?),
                limit: 1,
                ..Default::default()
            },
        )
        .await?
        .items
        .first()
        .map(|row| row.community_id.clone())
        .ok_or_else(|| anyhow::anyhow!("no KIM in {district}"))?;

    let tokens = TokenStore::new(db.clone());
    let (_, admin) = tokens.create("bench admin", "admin", "national").await?;
    let (_, supervisor) = tokens
        .create("bench province", "province", &province)
        .await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let limits = simpul_http::Limits::default();
    let app = simpul_http::app_with_pages(
        state,
        &limits,
        simpul_web::pages(simpul_web::WebSettings::default()),
    );
    tokio::spawn(simpul_http::serve_with_limits(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let admin_session = format!("simpul_sesi={}", session(&http, &base, &admin).await?);
    let province_session = format!("simpul_sesi={}", session(&http, &base, &supervisor).await?);
    let admin_bearer = format!("Bearer {admin}");
    let province_bearer = format!("Bearer {supervisor}");

    // (page, who, the JSON read of the same data)
    let pages: Vec<(String, &str, Option<String>)> = vec![
        (
            "/".into(),
            "province",
            Some(format!("/api/v1/dashboard/stages?region={province}")),
        ),
        (
            "/wilayah".into(),
            "admin",
            Some("/api/v1/dashboard/stages".into()),
        ),
        (
            format!("/wilayah/{regency}"),
            "province",
            Some(format!("/api/v1/dashboard/stages?region={regency}")),
        ),
        (
            format!("/wilayah/{district}"),
            "province",
            Some(format!("/api/v1/communities?region={district}&limit=500")),
        ),
        (
            format!("/kim?region={province}"),
            "province",
            Some(format!("/api/v1/communities?region={province}")),
        ),
        (
            format!("/kim?region={province}&missing_sk=true&no_activity_months=6"),
            "province",
            Some(format!(
                "/api/v1/communities?region={province}&missing_sk=true&no_activity_months=6"
            )),
        ),
        (
            format!("/kim/{kim}"),
            "province",
            Some(format!("/api/v1/communities/{kim}/events")),
        ),
        ("/audit".into(), "admin", Some("/api/v1/audit".into())),
        (
            "/status".into(),
            "admin",
            Some("/api/v1/projections".into()),
        ),
        ("/analitik".into(), "province", None),
        (
            "/analitik/waktu?cohort=year".into(),
            "province",
            Some("/api/v1/analytics/time-to-stage?cohort=year".into()),
        ),
        (
            "/analitik/corong".into(),
            "province",
            Some("/api/v1/analytics/funnel".into()),
        ),
        (
            "/analitik/bimtek".into(),
            "province",
            Some("/api/v1/analytics/bimtek-effect".into()),
        ),
        (
            // Another day each request: never an answer kept from the one before.
            "/analitik/bimtek?as_of={as_of}".into(),
            "province",
            Some("/api/v1/analytics/bimtek-effect?as_of={as_of_1y}".into()),
        ),
        (
            "/analitik/tren".into(),
            "province",
            Some("/api/v1/analytics/trends".into()),
        ),
        (
            // The page compares the province's kabupaten/kota by default.
            "/analitik/banding".into(),
            "province",
            Some(format!(
                "/api/v1/analytics/compare?metric=share_kim3plus&regions={}",
                regions
                    .children(&code(&province)?)
                    .iter()
                    .take(simpul_app::progression::MAX_COMPARED)
                    .map(|region| region.code.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )),
        ),
    ];
    println!("\n## pages at scale {scale} ({events} events), {ROUNDS} requests each\n");
    println!("| page | p50 ms | p99 ms | size | JSON read p50 / p99 ms | p99 ratio |");
    println!("|---|---|---|---|---|---|");
    for (page, who, json) in &pages {
        let session = if *who == "admin" {
            &admin_session
        } else {
            &province_session
        };
        let (p50, p99, size) = measure(&http, &base, page, ("cookie", session)).await?;
        // The JSON read as the same role (its officers' names stay sealed for a province).
        let bearer = if *who == "admin" {
            &admin_bearer
        } else {
            &province_bearer
        };
        let (j50, j99) = match json {
            Some(path) => {
                let (j50, j99, _) = measure(&http, &base, path, ("authorization", bearer)).await?;
                (j50, j99)
            }
            None => (f64::NAN, f64::NAN),
        };
        println!(
            "| `{page}` ({who}) | {p50:.1} | {p99:.1} | {} KB | {j50:.1} / {j99:.1} | {:.2}× |",
            size / 1024,
            p99 / j99
        );
    }

    // The analytics endpoints (issue 15: p99 < 200 ms at scale 10), national (admin) and the
    // busiest province, each against the stage dashboard's JSON for the same scope.
    let provinces: Vec<String> = national
        .children
        .iter()
        .filter_map(|row| row.code.clone())
        .take(10)
        .collect();
    let provinces = provinces.join(",");
    let analytics: Vec<String> = vec![
        "time-to-stage?from=kim1&to=kim2&cohort=year".into(),
        "time-to-stage?from=kim2&to=kim4".into(),
        "funnel?cohort=year".into(),
        "bimtek-effect?window_days=180".into(),
        "bimtek-effect?window_days=180&as_of={as_of_2y}".into(),
        "trends?interval=month&from=2016-01-01&to=2025-12-31".into(),
        format!("compare?regions={provinces}&metric=median_days_kim1_kim2"),
        format!("compare?regions={provinces}&metric=share_kim3plus"),
    ];
    println!("\n## analytics at scale {scale}, {ROUNDS} requests each\n");
    println!("| endpoint | scope | p50 ms | p99 ms | size | dashboard p50 / p99 ms | p99 ratio |");
    println!("|---|---|---|---|---|---|---|");
    for (scope, bearer, region) in [
        ("national", &admin_bearer, String::new()),
        ("province", &province_bearer, format!("&region={province}")),
    ] {
        let dashboard = match scope {
            "national" => "/api/v1/dashboard/stages".to_owned(),
            _ => format!("/api/v1/dashboard/stages?region={province}"),
        };
        let (d50, d99, _) = measure(&http, &base, &dashboard, ("authorization", bearer)).await?;
        for endpoint in &analytics {
            // A comparison names its regions: the province's token compares only itself.
            let path = match (scope, endpoint.starts_with("compare")) {
                ("province", true) => endpoint.replace(&provinces, &province),
                (_, true) => endpoint.clone(),
                _ => format!("{endpoint}{region}"),
            };
            let path = format!("/api/v1/analytics/{path}");
            let (p50, p99, size) = measure(&http, &base, &path, ("authorization", bearer)).await?;
            println!(
                "| `{}` | {scope} | {p50:.1} | {p99:.1} | {} KB | {d50:.1} / {d99:.1} | {:.1}× |",
                path.trim_start_matches("/api/v1"),
                size / 1024,
                p99 / d99
            );
        }
    }
    Ok(())
}

//! Exports: `simpul export communities|events` (the real binary) and `GET /api/v1/exports/…`
//! (a real server), on both backends: CSV and XLSX round trips equal the read model, JSON lines
//! follow the feed, names are opened only with the flag or for a role that may see them, and the
//! HTTP exports keep the tokens' scopes.

use std::io::Cursor;
use std::process::Output;

use calamine::{Data, DataType as _, Reader as _};
use reqwest::Method;
use serde_json::Value;
use simpul_domain::commands::RecordBimtek;
use simpul_domain::events::BimtekKind;
use simpul_domain::text::Title;
use simpul_domain::{ActorRole, CommunityCommand};
use simpul_projections::community_summary::query::{self, ListFilter, SummaryRow};
use simpul_projections::exports::communities::{
    cells, Cell, CommunityPages, COLUMNS, XLSX_MEDIA_TYPE,
};
use simpul_projections::exports::events::EventPages;
use simpul_projections::Runner;
use simpul_store::{Database, KeyStore, MasterKey};

use crate::both_backends;
use crate::helpers::*;
use crate::server::{officer_body, TestServer};

async fn simpul_async(args: &[&str], envs: &[(&str, &str)]) -> Output {
    simpul_binary_async(args, envs).await
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every `community_summary` row within `region`, in id order.
async fn summary_rows(db: &Database, region: Option<&str>) -> Vec<SummaryRow> {
    query::list(
        db,
        &ListFilter {
            region: region.map(str::to_owned),
            limit: 10_000,
            ..ListFilter::default()
        },
    )
    .await
    .unwrap()
}

/// Five KIM: three in Sleman (two kecamatan; one legal, with a bimtek), one in Bantul, one in
/// Batam. Names are sealed with `keys`. Returns the legal one's id.
async fn seed(db: &TestDb, keys: &KeyStore) -> String {
    let executor = db.executor();
    let regency = context(ActorRole::Regency);
    let legal = legal_ready(&executor, keys, SLEMAN_DESA).await;
    executor
        .execute(&legal, assign_number("KIM-3404-0001", SLEMAN), &regency)
        .await
        .unwrap();
    let bimtek = CommunityCommand::RecordBimtek(RecordBimtek {
        session_id: uuid::Uuid::new_v4(),
        kind: BimtekKind::Bimtek,
        title: Title::parse("Bimtek KIM Kabupaten Sleman").unwrap(),
        held_on: date("2025-05-20"),
        organizer_region: code(SLEMAN),
        participants: 25,
    });
    executor.execute(&legal, bimtek, &regency).await.unwrap();
    for village in [
        "34.04.01.2002",
        "34.04.02.2001",
        "34.02.01.2001",
        "21.71.01.1002",
    ] {
        let id = uuid::Uuid::now_v7().to_string();
        executor
            .execute(&id, form(village, 7), &regency)
            .await
            .unwrap();
    }
    let runner = Runner::new(db.store());
    crate::projections::settle(&runner).await;
    legal
}

/// Compares one XLSX row with the cells of a read-model row, typed.
fn assert_xlsx_row(actual: &[Data], row: &SummaryRow) {
    let expected = cells(row);
    assert_eq!(actual.len(), expected.len());
    for ((cell, expected), column) in actual.iter().zip(&expected).zip(&COLUMNS) {
        let header = column.header;
        match expected {
            Cell::Text(text) => assert_eq!(cell, &Data::String((*text).to_owned()), "{header}"),
            Cell::Integer(number) => {
                assert!(
                    matches!(cell, Data::Float(_) | Data::Int(_)),
                    "{header}: {cell:?}"
                );
                assert_eq!(cell.as_i64(), Some(*number), "{header}");
            }
            Cell::Date(text) => {
                assert!(matches!(cell, Data::DateTime(_)), "{header}: {cell:?}");
                assert_eq!(cell.as_date().unwrap().to_string(), *text, "{header}");
            }
            Cell::Boolean(value) => assert_eq!(cell, &Data::Bool(*value), "{header}"),
            Cell::Empty => assert_eq!(cell, &Data::Empty, "{header}"),
        }
    }
}

fn read_xlsx(bytes: Vec<u8>) -> Vec<Vec<Data>> {
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .expect("the export is an XLSX workbook");
    assert_eq!(workbook.sheet_names(), ["KIM"]);
    let range = workbook.worksheet_range("KIM").unwrap();
    assert_eq!(range.start(), Some((0, 0)));
    range.rows().map(<[Data]>::to_vec).collect()
}

fn assert_csv_equals(text: &str, expected: &[SummaryRow]) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let expected_headers: Vec<&str> = COLUMNS.iter().map(|c| c.header).collect();
    assert_eq!(headers, expected_headers);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), expected.len(), "{text}");
    for (record, row) in records.iter().zip(expected) {
        let texts: Vec<String> = cells(row).iter().map(|c| c.text().into_owned()).collect();
        assert_eq!(record.iter().collect::<Vec<_>>(), texts);
        // Spot checks through the typed row, not only through the shared formatter.
        assert_eq!(&record[0], row.community_id);
        assert_eq!(&record[1], row.name);
        assert_eq!(record[16].parse::<i64>().unwrap(), row.member_count);
        assert_eq!(&record[22], row.formed_on);
    }
}

both_backends!(
    communities_export_round_trips_through_csv_and_xlsx,
    |db: TestDb| async move {
        let keys = db.keys();
        let legal = seed(&db, &keys).await;
        let env = [("DATABASE_URL", db.url.as_str())];

        // CSV of DI Yogyakarta (34): four KIM, oldest id first, equal to the read model.
        let province = summary_rows(&db.database, Some("34")).await;
        assert_eq!(province.len(), 4);
        let output = simpul_async(
            &["export", "communities", "--region", "34", "--format", "csv"],
            &env,
        )
        .await;
        assert!(output.status.success(), "{}", stderr(&output));
        let text = stdout(&output);
        assert!(text.starts_with("id,nama_kim,kode_desa,desa,"), "{text}");
        assert_csv_equals(&text, &province);
        let legal_row = province.iter().find(|r| r.community_id == legal).unwrap();
        assert!(legal_row.legal);
        assert_eq!(legal_row.nomor_induk.as_deref(), Some("KIM-3404-0001"));
        assert_eq!(legal_row.sk_date.as_deref(), Some("2025-03-01"));
        assert_eq!(legal_row.last_bimtek_on.as_deref(), Some("2025-05-20"));

        // Any level: a kecamatan, a desa; the whole country without --region; to a file.
        for (region, count) in [("34.04.01", 2), (SLEMAN_DESA, 1), ("34.04", 3), ("21", 1)] {
            let output = simpul_async(&["export", "communities", "--region", region], &env).await;
            assert!(output.status.success(), "{}", stderr(&output));
            assert_csv_equals(
                &stdout(&output),
                &summary_rows(&db.database, Some(region)).await,
            );
            assert_eq!(stdout(&output).lines().count(), count + 1, "{region}");
        }
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("kim.csv");
        let output = simpul_async(
            &[
                "export",
                "communities",
                "--output",
                csv_path.to_str().unwrap(),
            ],
            &env,
        )
        .await;
        assert!(output.status.success(), "{}", stderr(&output));
        let all = summary_rows(&db.database, None).await;
        assert_eq!(all.len(), 5);
        assert_csv_equals(&std::fs::read_to_string(&csv_path).unwrap(), &all);

        // XLSX: header row, then the same values, typed (numbers, dates, booleans).
        let xlsx_path = dir.path().join("kim-34.xlsx");
        let output = simpul_async(
            &[
                "export",
                "communities",
                "--region",
                "34",
                "--format",
                "xlsx",
                "--output",
                xlsx_path.to_str().unwrap(),
            ],
            &env,
        )
        .await;
        assert!(output.status.success(), "{}", stderr(&output));
        let rows = read_xlsx(std::fs::read(&xlsx_path).unwrap());
        assert_eq!(rows.len(), province.len() + 1);
        let headers: Vec<Data> = COLUMNS
            .iter()
            .map(|c| Data::String(c.header.to_owned()))
            .collect();
        assert_eq!(rows[0], headers);
        for (actual, row) in rows[1..].iter().zip(&province) {
            assert_xlsx_row(actual, row);
        }

        // Paging: small pages join up to the same rows, none twice; the feed likewise.
        let mut pages = CommunityPages::new(db.database.clone(), None, None).with_page_size(2);
        let mut paged = Vec::new();
        let mut sizes = Vec::new();
        while let Some(page) = pages.next_page().await.unwrap() {
            sizes.push(page.len());
            paged.extend(page);
        }
        assert_eq!(paged, all);
        assert_eq!(sizes, [2, 2, 1]);
        let feed = read_feed(&db.store(), 0, 11).await;
        let mut events = EventPages::new(db.store(), 0);
        let mut positions = Vec::new();
        while let Some(batch) = events.next_batch(3).await.unwrap() {
            assert!(batch.len() <= 3);
            positions.extend(batch.iter().map(|e| e.position));
        }
        let expected: Vec<u64> = feed.iter().map(|e| e.position).collect();
        assert_eq!(positions, expected);
        assert_eq!(events.cursor(), *expected.last().unwrap());

        // Bad arguments: a message and a non-zero exit.
        let output = simpul_async(&["export", "communities", "--format", "xlsx"], &env).await;
        assert!(!output.status.success());
        assert!(stderr(&output).contains("--output"), "{}", stderr(&output));
        let output = simpul_async(&["export", "communities", "--region", "34.99"], &env).await;
        assert_eq!(output.status.code(), Some(2));
        assert!(
            stderr(&output).contains("does not exist"),
            "{}",
            stderr(&output)
        );
        let output = simpul_async(&["export", "communities", "--region", "3404"], &env).await;
        assert!(!output.status.success());
        let output = simpul_async(&["export", "communities", "--format", "pdf"], &env).await;
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains("invalid value"),
            "{}",
            stderr(&output)
        );
    }
);

both_backends!(
    events_export_follows_the_feed_and_opens_names_only_with_the_flag,
    |db: TestDb| async move {
        // The binary's master key is the one that sealed the names.
        let master = MasterKey::generate();
        let master_text = master.to_base64();
        let keys = KeyStore::new(db.database.clone(), master);
        seed(&db, &keys).await;
        let feed = read_feed(&db.store(), 0, 11).await;
        assert_eq!(feed.len(), 11, "7 events of the legal KIM, 4 formations");
        let erased = feed
            .iter()
            .find(|e| e.event_type == "OfficerAppointed")
            .and_then(|e| e.payload["OfficerAppointed"]["person_id"].as_str())
            .map(|id| uuid::Uuid::parse_str(id).unwrap())
            .unwrap();
        keys.erase(erased, "permintaan subjek data", "test")
            .await
            .unwrap();
        let env = [
            ("DATABASE_URL", db.url.as_str()),
            ("SIMPUL_MASTER_KEY", master_text.as_str()),
        ];
        let lines = |output: &Output| -> Vec<Value> {
            assert!(output.status.success(), "{}", stderr(output));
            stdout(output)
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect()
        };

        // Sealed by default: every event once, in feed order, no plain names.
        let output = simpul_async(&["export", "events"], &env).await;
        let sealed = lines(&output);
        assert_eq!(sealed.len(), feed.len());
        for (line, event) in sealed.iter().zip(&feed) {
            assert_eq!(line["position"], event.position);
            assert_eq!(line["community_id"], event.aggregate_id.as_str());
            assert_eq!(line["sequence"], event.sequence);
            assert_eq!(line["event_type"], event.event_type.as_str());
            assert_eq!(line["event_version"], event.event_version.as_str());
            assert_eq!(
                line["payload"], event.payload,
                "sealed payloads stay as stored"
            );
            assert_eq!(
                line["metadata"]["actor_id"],
                event.metadata["actor_id"].as_str()
            );
        }
        let text = stdout(&output);
        for name in ["Ketua Satu", "Sekretaris Dua", "Bendahara Tiga"] {
            assert!(
                !text.contains(name),
                "{name} leaked without --with-personal-data"
            );
        }

        // --with-personal-data: opened with the master key; the erased person reads [dihapus].
        let opened =
            lines(&simpul_async(&["export", "events", "--with-personal-data"], &env).await);
        let names: Vec<&str> = opened
            .iter()
            .filter(|l| l["event_type"] == "OfficerAppointed")
            .map(|l| l["payload"]["OfficerAppointed"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["[dihapus]", "Sekretaris Dua", "Bendahara Tiga"]);

        // --after and --limit; --output writes the same lines to a file.
        let after = feed[2].position.to_string();
        let page = lines(
            &simpul_async(
                &["export", "events", "--after", &after, "--limit", "4"],
                &env,
            )
            .await,
        );
        let positions: Vec<u64> = page
            .iter()
            .map(|l| l["position"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> = feed[3..7].iter().map(|e| e.position).collect();
        assert_eq!(positions, expected);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let output = simpul_async(
            &["export", "events", "--output", path.to_str().unwrap()],
            &env,
        )
        .await;
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let output = simpul_async(&["export", "events", "--limit", "0"], &env).await;
        assert!(!output.status.success());
    }
);

async fn http_exports(server: TestServer) {
    let sleman = server.token("regency", SLEMAN).await;
    let batam = server.token("regency", "21.71").await;
    let first = server.form(&sleman, SLEMAN_DESA).await;
    server.form(&sleman, "34.04.02.2001").await;
    server.form(&batam, "21.71.01.1002").await;
    let pegiat = server.token("pegiat", &first).await;
    let reply = server
        .post(
            &format!("/communities/{first}/officers"),
            &pegiat,
            officer_body("ketua", "Siti Rahmawati"),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let position = reply.body["position"].as_u64().unwrap();
    let admin = server.token("admin", "national").await;
    let wait = server
        .get(&format!("/communities?min_position={position}"), &admin)
        .await;
    assert_eq!(wait.status, 200, "{:?}", wait.body);

    let province = server.token("province", "34").await;
    let national = server.token("national", "national").await;
    let export = |token: &str, query: &str, accept: &str| {
        let request = server
            .client
            .get(format!("{}/api/v1/exports/{query}", server.base))
            .bearer_auth(token);
        let request = if accept.is_empty() {
            request
        } else {
            request.header("accept", accept)
        };
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            (status, headers, response.bytes().await.unwrap().to_vec())
        }
    };
    let csv_rows = |body: &[u8]| -> Vec<csv::StringRecord> {
        csv::Reader::from_reader(body)
            .records()
            .map(Result::unwrap)
            .collect()
    };

    // CSV: the province token's own province by default; a kabupaten; the whole country.
    let (status, headers, body) = export(&province, "communities", "text/csv").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"kim-34.csv\""
    );
    let rows = csv_rows(&body);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| &r[8] == "34"));
    let (status, _, body) = export(&province, "communities?region=34.04.02", "*/*").await;
    assert_eq!(status, 200);
    assert_eq!(csv_rows(&body).len(), 1);
    let (_, _, body) = export(&national, "communities", "").await;
    assert_eq!(
        csv_rows(&body).len(),
        3,
        "no Accept: CSV of the whole country"
    );
    let (_, _, body) = export(&pegiat, "communities", "text/csv").await;
    let own = csv_rows(&body);
    assert_eq!(own.len(), 1);
    assert_eq!(&own[0][0], first);

    // XLSX by Accept, the same rows as the CSV.
    let (status, headers, body) = export(&national, "communities?region=34", XLSX_MEDIA_TYPE).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], XLSX_MEDIA_TYPE);
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"kim-34.xlsx\""
    );
    let sheet = read_xlsx(body);
    assert_eq!(sheet.len(), 3);
    let ids: Vec<String> = sheet[1..].iter().map(|r| r[0].to_string()).collect();
    let csv_ids: Vec<String> = rows.iter().map(|r| r[0].to_owned()).collect();
    assert_eq!(ids, csv_ids);

    // Scope: another province's region is 403, as for the list; Accept nobody offers is 406.
    for query in ["communities?region=21", "communities?region=21.71.01"] {
        let (status, headers, _) = export(&province, query, "text/csv").await;
        assert_eq!(status, 403, "{query}");
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json"));
        let listed = server.get(&format!("/{query}"), &province).await;
        assert_eq!(listed.status.as_u16(), status, "the list answers alike");
    }
    let (status, _, _) = export(&sleman, "communities", "text/csv").await;
    assert_eq!(status, 200, "a regency exports its own kabupaten");
    let (status, headers, body) = export(&province, "communities", "application/json").await;
    assert_eq!(status, 406);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["status"], 406);
    assert_eq!(problem["field"], "Accept");
    for query in ["communities?region=abc", "communities?colour=red"] {
        let (status, _, _) = export(&province, query, "text/csv").await;
        assert_eq!(status, 400, "{query}");
    }
    let anonymous = server
        .call(Method::GET, "/api/v1/exports/communities", None, None, &[])
        .await;
    assert_eq!(anonymous.status, 401);

    // Events: JSON lines in feed order for admin, names opened; sealed types refused.
    let lines = |body: &[u8]| -> Vec<Value> {
        std::str::from_utf8(body)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    let (status, headers, body) = export(&admin, "events", "application/x-ndjson").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let all = lines(&body);
    assert_eq!(all.len(), 4);
    let officer = all
        .iter()
        .find(|l| l["event_type"] == "OfficerAppointed")
        .unwrap();
    assert_eq!(
        officer["payload"]["OfficerAppointed"]["name"],
        "Siti Rahmawati"
    );
    assert_eq!(officer["metadata"]["actor_role"], "pegiat");
    let after = all[0]["position"].as_u64().unwrap();
    let (_, _, body) = export(&admin, &format!("events?after={after}&limit=2"), "").await;
    let page = lines(&body);
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["position"], all[1]["position"]);
    assert_eq!(page[1]["position"], all[2]["position"]);

    // A regional auditor gets its region's events only; readers without history rights, 403.
    let auditor = server.token("auditor", "21").await;
    let (status, _, body) = export(&auditor, "events", "").await;
    assert_eq!(status, 200);
    let batam_events = lines(&body);
    assert_eq!(batam_events.len(), 1);
    assert_eq!(batam_events[0]["event_type"], "CommunityFormed");
    let auditor = server.token("auditor", "34.04").await;
    let (_, _, body) = export(&auditor, "events", "").await;
    let sleman_events = lines(&body);
    assert_eq!(sleman_events.len(), 3);
    assert!(String::from_utf8_lossy(&body).contains("Siti Rahmawati"));
    for token in [&national, &province, &sleman, &pegiat] {
        let (status, _, _) = export(token, "events", "").await;
        assert_eq!(status, 403);
    }
    let (status, _, body) = export(&admin, "events", "text/csv").await;
    assert_eq!(status, 406);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["field"],
        "Accept"
    );
    for query in ["events?limit=0", "events?after=minus"] {
        let (status, _, _) = export(&admin, query, "").await;
        assert_eq!(status, 400, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_exports_keep_scopes_and_negotiate_on_postgres() {
    http_exports(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_exports_keep_scopes_and_negotiate_on_sqlite() {
    http_exports(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

//! Exports: `simpul export communities|events` (the real binary) and `GET /api/v1/exports/…`
//! (a real server), on both backends: CSV and XLSX round trips equal the read model, JSON lines
//! follow the feed, names are opened only with the flag or for a role that may see them, and the
//! HTTP exports keep the tokens' scopes.

use std::io::Cursor;
use std::process::Output;

use calamine::{Data, DataType as _, Reader as _};
use reqwest::Method;
use serde_json::Value;
use simpul_domain::commands::{FormCommunity, IssueSk, RecordBimtek};
use simpul_domain::events::BimtekKind;
use simpul_domain::text::{CommunityName, SkNumber, Title};
use simpul_domain::{ActorRole, CommunityCommand, OfficerRole};
use simpul_projections::community_summary::query::{self, ListFilter, SummaryRow};
use simpul_projections::exports::communities::{
    cells, Cell, CommunityPages, COLUMNS, XLSX_MEDIA_TYPE,
};
use simpul_projections::exports::events::EventPages;
use simpul_projections::Runner;
use simpul_store::{Database, KeyStore, MasterKey};

use crate::both_backends;
use crate::helpers::*;
use crate::server::{form_body, officer_body, TestServer};

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
        let texts: Vec<String> = cells(row)
            .iter()
            .map(|cell| match cell {
                Cell::Text(text) => shown_in_csv(text),
                other => other.text().into_owned(),
            })
            .collect();
        assert_eq!(record.iter().collect::<Vec<_>>(), texts);
        // Spot checks through the typed row, not only through the shared formatter.
        assert_eq!(&record[0], row.community_id);
        assert_eq!(record[1], shown_in_csv(&row.name));
        assert_eq!(record[16].parse::<i64>().unwrap(), row.member_count);
        assert_eq!(&record[22], row.formed_on);
    }
}

/// A text cell as a CSV export must read back: with a leading `'` when a spreadsheet would take
/// it for a formula (written out here, not through the exports' own function).
fn shown_in_csv(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

/// KIM names a spreadsheet would run as formulas; the first also gets an SK number and a nomor
/// induk that start like formulas (the texts the domain accepts: trimmed, no control characters,
/// a nomor induk only of letters, digits, `.`, `/`, `-` and spaces).
const FORMULA_NAMES: [&str; 4] = ["=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)"];
const FORMULA_SK: &str = "=SUM(1,2)";
const FORMULA_NOMOR_INDUK: &str = "-3404-0001";
const FORMULA_DESA: [&str; 4] = [
    "34.04.01.2001",
    "34.04.01.2002",
    "34.04.02.2001",
    "34.04.02.2002",
];

/// Checks a communities CSV holding the KIM of [`FORMULA_NAMES`]: every text that starts like a
/// formula reads back with a leading `'`, the rest as it is, and no cell starts like a formula.
fn assert_formulas_neutralised(body: &[u8], sk_date: &str) {
    let text = String::from_utf8_lossy(body);
    let mut reader = csv::Reader::from_reader(body);
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), FORMULA_NAMES.len(), "{text}");
    for record in &records {
        for cell in record {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet would run: {cell:?} in {text}"
            );
        }
    }
    let mut names: Vec<&str> = records.iter().map(|r| &r[column("nama_kim")]).collect();
    names.sort_unstable();
    let mut expected: Vec<String> = FORMULA_NAMES.iter().map(|n| format!("'{n}")).collect();
    expected.sort_unstable();
    assert_eq!(names, expected, "{text}");
    let legal = records
        .iter()
        .find(|r| r[column("nama_kim")] == format!("'{}", FORMULA_NAMES[0]))
        .unwrap();
    assert_eq!(&legal[column("nomor_sk")], format!("'{FORMULA_SK}"));
    assert_eq!(
        &legal[column("nomor_induk")],
        format!("'{FORMULA_NOMOR_INDUK}")
    );
    // Simpul's own values are left alone.
    assert_eq!(&legal[column("legal")], "true");
    assert_eq!(&legal[column("tanggal_sk")], sk_date);
    assert_eq!(&legal[column("kode_kabupaten_kota")], SLEMAN);
    for record in &records {
        assert_eq!(&record[column("jumlah_anggota")], "12");
    }
}

/// Checks the XLSX export of the same KIM: the texts exactly as entered (strings never run).
fn assert_xlsx_keeps_formula_texts(bytes: Vec<u8>) {
    let rows = read_xlsx(bytes);
    let column = |name: &str| COLUMNS.iter().position(|c| c.header == name).unwrap();
    assert_eq!(rows.len(), FORMULA_NAMES.len() + 1);
    let mut names: Vec<Data> = rows[1..]
        .iter()
        .map(|r| r[column("nama_kim")].clone())
        .collect();
    names.sort_by_key(ToString::to_string);
    let mut expected: Vec<Data> = FORMULA_NAMES
        .iter()
        .map(|n| Data::String((*n).to_owned()))
        .collect();
    expected.sort_by_key(ToString::to_string);
    assert_eq!(names, expected);
    let legal = rows[1..]
        .iter()
        .find(|r| r[column("nama_kim")] == Data::String(FORMULA_NAMES[0].to_owned()))
        .unwrap();
    assert_eq!(
        legal[column("nomor_sk")],
        Data::String(FORMULA_SK.to_owned())
    );
    assert_eq!(
        legal[column("nomor_induk")],
        Data::String(FORMULA_NOMOR_INDUK.to_owned())
    );
}

both_backends!(
    csv_export_neutralises_formulas_in_user_texts,
    |db: TestDb| async move {
        let keys = db.keys();
        let executor = db.executor();
        let regency = context(ActorRole::Regency);
        let mut ids = Vec::new();
        for (name, village) in FORMULA_NAMES.iter().zip(FORMULA_DESA) {
            let id = uuid::Uuid::now_v7().to_string();
            let CommunityCommand::FormCommunity(formation) = form(village, 12) else {
                unreachable!("form() forms")
            };
            let command = CommunityCommand::FormCommunity(FormCommunity {
                name: CommunityName::parse(name).unwrap(),
                ..formation
            });
            executor.execute(&id, command, &regency).await.unwrap();
            ids.push(id);
        }
        let legal = &ids[0];
        for (role, name) in [
            (OfficerRole::Ketua, "Ketua Satu"),
            (OfficerRole::Sekretaris, "Sekretaris Dua"),
            (OfficerRole::Bendahara, "Bendahara Tiga"),
        ] {
            let (_, command) = appoint(&keys, role, name).await;
            executor
                .execute(legal, command, &context(ActorRole::Pegiat))
                .await
                .unwrap();
        }
        let CommunityCommand::IssueSk(sk) = issue_sk(FORMULA_DESA[0]) else {
            unreachable!("issue_sk() issues an SK")
        };
        let sk = CommunityCommand::IssueSk(IssueSk {
            number: SkNumber::parse(FORMULA_SK).unwrap(),
            ..sk
        });
        executor.execute(legal, sk, &regency).await.unwrap();
        executor
            .execute(legal, assign_number(FORMULA_NOMOR_INDUK, SLEMAN), &regency)
            .await
            .unwrap();
        crate::projections::settle(&Runner::new(db.store())).await;
        let rows = summary_rows(&db.database, Some(SLEMAN)).await;
        assert!(rows
            .iter()
            .any(|r| r.nomor_induk.as_deref() == Some(FORMULA_NOMOR_INDUK)));

        // `simpul export communities` (the real binary): CSV to stdout and to a file.
        let env = [("DATABASE_URL", db.url.as_str())];
        let output = simpul_async(&["export", "communities", "--region", SLEMAN], &env).await;
        assert!(output.status.success(), "{}", stderr(&output));
        assert_formulas_neutralised(&output.stdout, "2025-03-01");
        assert_csv_equals(&stdout(&output), &rows);
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
        assert_formulas_neutralised(&std::fs::read(&csv_path).unwrap(), "2025-03-01");

        // XLSX keeps the texts as they were entered.
        let xlsx_path = dir.path().join("kim.xlsx");
        let output = simpul_async(
            &[
                "export",
                "communities",
                "--format",
                "xlsx",
                "--output",
                xlsx_path.to_str().unwrap(),
            ],
            &env,
        )
        .await;
        assert!(output.status.success(), "{}", stderr(&output));
        assert_xlsx_keeps_formula_texts(std::fs::read(&xlsx_path).unwrap());
    }
);

async fn http_csv_neutralises_formulas(server: TestServer) {
    let regency = server.token("regency", SLEMAN).await;
    let mut ids = Vec::new();
    for (name, village) in FORMULA_NAMES.iter().zip(FORMULA_DESA) {
        let mut body = form_body(village, 12);
        body["name"] = Value::from(*name);
        let reply = server.post("/communities", &regency, body).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    let legal = &ids[0];
    let pegiat = server.token("pegiat", legal).await;
    for (role, name) in [
        ("ketua", "Ketua Satu"),
        ("sekretaris", "Sekretaris Dua"),
        ("bendahara", "Bendahara Tiga"),
    ] {
        let reply = server
            .post(
                &format!("/communities/{legal}/officers"),
                &pegiat,
                officer_body(role, name),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let reply = server
        .post(
            &format!("/communities/{legal}/sk"),
            &regency,
            serde_json::json!({
                "number": FORMULA_SK, "issued_on": "2025-08-10",
                "subject": "Pembentukan KIM", "issuing_office": FORMULA_DESA[0],
                "signed_by": "Kepala Desa", "roster_acknowledged": true,
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let reply = server
        .post(
            &format!("/communities/{legal}/registration"),
            &regency,
            serde_json::json!({
                "number": FORMULA_NOMOR_INDUK, "regency": SLEMAN, "assigned_on": "2025-08-20",
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let position = reply.body["position"].as_u64().unwrap();
    let get = |path: String, accept: &'static str| {
        let request = server
            .client
            .get(format!("{}/api/v1{path}", server.base))
            .bearer_auth(&regency)
            .header("accept", accept);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.bytes().await.unwrap().to_vec()
        }
    };

    // The list's CSV (after the last write), then the export, CSV and XLSX.
    let list = get(
        format!("/communities?region={SLEMAN}&min_position={position}"),
        "text/csv",
    )
    .await;
    assert_formulas_neutralised(&list, "2025-08-10");
    let export = get(format!("/exports/communities?region={SLEMAN}"), "text/csv").await;
    assert_formulas_neutralised(&export, "2025-08-10");
    assert_eq!(list, export, "the list's page and the export write alike");
    let xlsx = get(
        format!("/exports/communities?region={SLEMAN}"),
        XLSX_MEDIA_TYPE,
    )
    .await;
    assert_xlsx_keeps_formula_texts(xlsx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_csv_neutralises_formulas_in_user_texts_on_postgres() {
    http_csv_neutralises_formulas(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_csv_neutralises_formulas_in_user_texts_on_sqlite() {
    http_csv_neutralises_formulas(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
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

        // Bad arguments: a message and exit 64 (usage), or 2 for a region that does not exist.
        let output = simpul_async(&["export", "communities", "--format", "xlsx"], &env).await;
        assert_eq!(output.status.code(), Some(64));
        assert!(stderr(&output).contains("--output"), "{}", stderr(&output));
        let output = simpul_async(&["export", "communities", "--region", "34.99"], &env).await;
        assert_eq!(output.status.code(), Some(2));
        assert!(
            stderr(&output).contains("does not exist"),
            "{}",
            stderr(&output)
        );
        let output = simpul_async(&["export", "communities", "--region", "3404"], &env).await;
        assert_eq!(output.status.code(), Some(64));
        let output = simpul_async(&["export", "communities", "--format", "pdf"], &env).await;
        assert_eq!(output.status.code(), Some(64));
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
        assert_eq!(output.status.code(), Some(64));
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

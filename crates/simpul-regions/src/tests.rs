use super::*;

fn code(s: &str) -> RegionCode {
    RegionCode::parse(s).unwrap()
}

fn regions() -> &'static Regions {
    bundled().unwrap()
}

fn names(regions: &[Region]) -> Vec<(&str, &str)> {
    regions
        .iter()
        .map(|region| (region.code.as_str(), region.name.as_str()))
        .collect()
}

#[test]
fn bundled_edition_has_the_decree_counts() {
    assert_eq!(regions().counts(), (38, 514, 7_285, 83_762));
}

#[test]
fn bundled_kinds_match_the_readme() {
    let count = |level, kind| {
        regions()
            .at_level(level)
            .filter(|region| region.kind == kind)
            .count()
    };
    assert_eq!(count(RegionLevel::Regency, RegionKind::Kabupaten), 416);
    assert_eq!(count(RegionLevel::Regency, RegionKind::Kota), 98);
    assert_eq!(count(RegionLevel::Village, RegionKind::Desa), 75_266);
    assert_eq!(count(RegionLevel::Village, RegionKind::Kelurahan), 8_496);
}

#[test]
fn every_province_regency_and_district_has_children() {
    let regions = regions();
    for level in [
        RegionLevel::Province,
        RegionLevel::Regency,
        RegionLevel::District,
    ] {
        for region in regions.at_level(level) {
            assert!(regions.children_count(&region.code) > 0, "{}", region.code);
        }
    }
    let (_, regencies, districts, villages) = regions.counts();
    let total = |level| -> usize {
        regions
            .at_level(level)
            .map(|region| regions.children_count(&region.code))
            .sum()
    };
    assert_eq!(total(RegionLevel::Province), regencies);
    assert_eq!(total(RegionLevel::Regency), districts);
    assert_eq!(total(RegionLevel::District), villages);
}

#[test]
fn yogyakarta_has_four_kabupaten_and_one_kota() {
    let regions = regions();
    let diy = regions.get(&code("34")).unwrap();
    assert_eq!(diy.name, "Daerah Istimewa Yogyakarta");
    assert_eq!(diy.level, RegionLevel::Province);
    assert_eq!(diy.kind, RegionKind::Provinsi);
    assert_eq!(diy.parent, None);

    let children = regions.children(&diy.code);
    assert_eq!(
        names(&children),
        [
            ("34.01", "Kulon Progo"),
            ("34.02", "Bantul"),
            ("34.03", "Gunungkidul"),
            ("34.04", "Sleman"),
            ("34.71", "Yogyakarta"),
        ]
    );
    let kinds: Vec<RegionKind> = children.iter().map(|region| region.kind).collect();
    use RegionKind::{Kabupaten, Kota};
    assert_eq!(kinds, [Kabupaten, Kabupaten, Kabupaten, Kabupaten, Kota]);
    assert!(children
        .iter()
        .all(|region| region.parent.as_ref() == Some(&diy.code)
            && region.level == RegionLevel::Regency));
    assert_eq!(regions.children_count(&diy.code), 5);
}

#[test]
fn batam_is_a_kota_in_kepulauan_riau() {
    let regions = regions();
    let batam = regions.get(&code("21.71")).unwrap();
    assert_eq!(batam.name, "Batam");
    assert_eq!(batam.kind, RegionKind::Kota);
    assert_eq!(batam.parent, Some(code("21")));
    assert_eq!(regions.get(&code("21")).unwrap().name, "Kepulauan Riau");

    let pemping = regions.get(&code("21.71.01.1002")).unwrap();
    assert_eq!(pemping.name, "Pemping");
    assert_eq!(pemping.level, RegionLevel::Village);
    assert_eq!(pemping.kind, RegionKind::Kelurahan);
    assert_eq!(pemping.parent, Some(code("21.71.01")));
}

#[test]
fn children_are_sorted_and_villages_have_none() {
    let regions = regions();
    let districts = regions.children(&code("34.04"));
    assert_eq!(districts.len(), 17);
    assert_eq!(districts.first().unwrap().code, code("34.04.01"));
    assert!(districts.windows(2).all(|pair| pair[0].code < pair[1].code));
    let villages = regions.children(&code("34.04.07"));
    assert_eq!(
        names(&villages),
        [
            ("34.04.07.2001", "Caturtunggal"),
            ("34.04.07.2002", "Maguwoharjo"),
            ("34.04.07.2003", "Condongcatur"),
        ]
    );
    assert!(regions.children(&code("34.04.07.2001")).is_empty());
    assert_eq!(regions.children_count(&code("34.04.07.2001")), 0);
    assert_eq!(regions.provinces().len(), 38);
}

#[test]
fn ancestors_run_from_the_province_down() {
    let regions = regions();
    let ancestors = regions.ancestors(&code("34.04.07.2001"));
    assert_eq!(
        names(&ancestors),
        [
            ("34", "Daerah Istimewa Yogyakarta"),
            ("34.04", "Sleman"),
            ("34.04.07", "Depok"),
        ]
    );
    assert_eq!(
        names(&regions.ancestors(&code("34.71"))),
        [("34", "Daerah Istimewa Yogyakarta")]
    );
    assert!(regions.ancestors(&code("34")).is_empty());
    assert!(regions.ancestors(&code("34.04.07.2999")).is_empty());
}

#[test]
fn unknown_codes_are_absent() {
    let regions = regions();
    for unknown in ["10", "34.05", "34.04.99", "34.04.07.2999", "99.99.99.9999"] {
        let unknown = code(unknown);
        assert_eq!(regions.get(&unknown), None, "{unknown}");
        assert!(!regions.contains(&unknown));
        assert!(regions.children(&unknown).is_empty());
        assert_eq!(regions.children_count(&unknown), 0);
        assert_eq!(regions.display_name(&unknown), None);
        assert_eq!(regions.lookup(&unknown), None);
    }
}

#[test]
fn village_names_with_commas_survive_parsing() {
    let regions = regions();
    let lubuk_pakam = regions.get(&code("12.07.28.1007")).unwrap();
    assert_eq!(lubuk_pakam.name, "Lubuk Pakam I,II");
    assert_eq!(lubuk_pakam.kind, RegionKind::Kelurahan);
    let lambang_sari = regions.get(&code("14.02.09.2010")).unwrap();
    assert_eq!(lambang_sari.name, "Lambang Sari I, II, III");
    assert_eq!(lambang_sari.kind, RegionKind::Desa);
    assert_eq!(
        regions.get(&code("53.07.01.2021")).unwrap().name,
        "Regapu\u{2019}u"
    );
}

#[test]
fn the_directory_trait_answers_rule_r2() {
    let directory: &dyn RegionDirectory = regions();
    assert_eq!(directory.edition(), EDITION);
    assert_eq!(
        directory.lookup(&code("34.04.07.2001")),
        Some(RegionInfo {
            code: code("34.04.07.2001"),
            name: "Caturtunggal".to_owned(),
            level: RegionLevel::Village,
            kind: "desa".to_owned(),
        })
    );
    let kricak = directory.lookup(&code("34.71.01.1001")).unwrap();
    assert_eq!(
        (kricak.level, kricak.kind.as_str()),
        (RegionLevel::Village, "kelurahan")
    );
    let sleman = directory.lookup(&code("34.04")).unwrap();
    assert_eq!(
        (sleman.level, sleman.kind.as_str()),
        (RegionLevel::Regency, "kabupaten")
    );
    assert_eq!(directory.lookup(&code("34")).unwrap().kind, "provinsi");
    assert_eq!(
        directory.lookup(&code("34.04.07")).unwrap().kind,
        "kecamatan"
    );
    assert_eq!(directory.lookup(&code("34.04.07.2999")), None);
}

#[test]
fn display_names_carry_their_title() {
    let regions = regions();
    let display = |s: &str| regions.display_name(&code(s)).unwrap();
    assert_eq!(display("34"), "Daerah Istimewa Yogyakarta");
    assert_eq!(display("34.04"), "Kabupaten Sleman");
    assert_eq!(display("34.71"), "Kota Yogyakarta");
    assert_eq!(display("34.04.07"), "Kecamatan Depok");
    assert_eq!(display("34.04.07.2001"), "Desa Caturtunggal");
    assert_eq!(display("34.71.01.1001"), "Kelurahan Kricak");
    assert_eq!(display("21.71"), "Kota Batam");
    assert_eq!(display("31.71"), "Kota Administrasi Jakarta Pusat");
    assert_eq!(display("31.01"), "Kabupaten Administrasi Kepulauan Seribu");
    assert_eq!(display("91.03.01"), "Distrik Sentani");
    assert_eq!(display("91.03.01.3007"), "Desa Adat Yoboi");
}

#[test]
fn search_ignores_case_and_ranks_whole_names_first() {
    let regions = regions();
    let hits = regions.search("  SLEMAN ", None, 10);
    assert_eq!(
        names(&hits),
        [
            ("34.04", "Sleman"),
            ("34.04.13", "Sleman"),
            ("32.12.12.2001", "Sleman"),
            ("32.12.12.2005", "Sleman Lor"),
            ("35.05.02.2010", "Slemanan"),
        ]
    );

    let villages = regions.search("sleman", Some(RegionLevel::Village), 10);
    assert_eq!(villages.len(), 3);
    assert!(villages
        .iter()
        .all(|region| region.level == RegionLevel::Village));

    assert_eq!(regions.search("yogyakarta", None, 2).len(), 2);
    assert_eq!(
        names(&regions.search("yogyakarta", None, 2)),
        [("34.71", "Yogyakarta"), ("18.10.02.2012", "Yogyakarta")]
    );
    assert_eq!(
        regions.search("kidul", Some(RegionLevel::Regency), 5)[0].name,
        "Gunungkidul"
    );
    assert_eq!(regions.search("a", None, 25).len(), 25);
    assert!(regions.search("", None, 10).is_empty());
    assert!(regions.search("sleman", None, 0).is_empty());
    assert!(regions.search("no such place", None, 10).is_empty());
}

const PROVINCES: &str = "code,name\n34,Daerah Istimewa Yogyakarta\n";
const REGENCIES: &str =
    "code,province_code,name,kind\n34.04,34,Sleman,kabupaten\n34.71,34,Yogyakarta,kota\n";
const DISTRICTS: &str = "code,regency_code,name\n34.04.07,34.04,Depok\n34.71.01,34.71,Tegalrejo\n";
const VILLAGES: &str = "code,district_code,name,kind\n\
    34.04.07.2001,34.04.07,Caturtunggal,desa\n\
    34.04.07.2002,34.04.07,\"Maguwo, Harjo\",desa\n\
    34.71.01.1001,34.71.01,Kricak,kelurahan\n";

#[test]
fn a_small_fixture_parses() {
    let regions = Regions::parse(PROVINCES, REGENCIES, DISTRICTS, VILLAGES).unwrap();
    assert_eq!(regions.counts(), (1, 2, 2, 3));
    assert_eq!(
        names(&regions.children(&code("34.04.07"))),
        [
            ("34.04.07.2001", "Caturtunggal"),
            ("34.04.07.2002", "Maguwo, Harjo")
        ]
    );
    assert_eq!(regions.edition(), EDITION);
    assert_eq!(
        format!("{regions:?}"),
        "Regions { provinces: 1, regencies: 2, districts: 2, villages: 3, .. }"
    );
}

#[test]
fn unsorted_rows_are_sorted() {
    let villages = "code,district_code,name,kind\n\
        34.71.01.1001,34.71.01,Kricak,kelurahan\n\
        34.04.07.2002,34.04.07,Maguwoharjo,desa\n\
        34.04.07.2001,34.04.07,Caturtunggal,desa\n";
    let regions = Regions::parse(PROVINCES, REGENCIES, DISTRICTS, villages).unwrap();
    assert_eq!(
        names(&regions.children(&code("34.04.07"))),
        [
            ("34.04.07.2001", "Caturtunggal"),
            ("34.04.07.2002", "Maguwoharjo")
        ]
    );
    assert_eq!(regions.children_count(&code("34.71.01")), 1);
}

#[test]
fn an_orphan_row_names_its_file_and_line() {
    let villages = format!("{VILLAGES}34.04.08.2001,34.04.08,Jogotirto,desa\n");
    let error = Regions::parse(PROVINCES, REGENCIES, DISTRICTS, &villages).unwrap_err();
    assert_eq!(
        error,
        RegionsError::UnknownParent {
            file: "villages.csv",
            line: 5,
            code: "34.04.08.2001".to_owned(),
            parent: "34.04.08".to_owned(),
            parent_file: "districts.csv",
        }
    );
    let message = error.to_string();
    assert!(message.starts_with("villages.csv line 5:"), "{message}");
}

#[test]
fn a_repeated_code_is_rejected() {
    let regencies = format!("{REGENCIES}34.04,34,Sleman Lagi,kabupaten\n");
    let error = Regions::parse(PROVINCES, &regencies, DISTRICTS, VILLAGES).unwrap_err();
    assert_eq!(
        error,
        RegionsError::DuplicateCode {
            file: "regencies.csv",
            line: 4,
            code: "34.04".to_owned(),
            first_line: 2,
        }
    );
}

#[test]
fn malformed_rows_name_their_file_and_line() {
    let malformed = |regencies: &str| -> (&'static str, u64) {
        match Regions::parse(PROVINCES, regencies, DISTRICTS, VILLAGES) {
            Err(RegionsError::Malformed { file, line, .. }) => (file, line),
            other => panic!("expected a malformed row, got {other:?}"),
        }
    };
    let header = "code,province_code,name,kind\n34.04,34,Sleman,kabupaten\n";
    // Unknown kind, kind of another level, code of another level, parent column that is not the
    // prefix, empty name, too few fields, bad code.
    for row in [
        "34.71,34,Yogyakarta,city",
        "34.71,34,Yogyakarta,desa",
        "34.71.01,34,Yogyakarta,kota",
        "34.71,35,Yogyakarta,kota",
        "34.71,34, ,kota",
        "34.71,34,Yogyakarta",
        "34.7a,34,Yogyakarta,kota",
    ] {
        assert_eq!(
            malformed(&format!("{header}{row}\n")),
            ("regencies.csv", 3),
            "{row}"
        );
    }
    assert_eq!(malformed("code,name\n34.04,Sleman\n"), ("regencies.csv", 1));
    assert_eq!(malformed(""), ("regencies.csv", 1));
}

#[test]
fn kinds_round_trip_through_their_ids() {
    for kind in [
        RegionKind::Provinsi,
        RegionKind::Kabupaten,
        RegionKind::Kota,
        RegionKind::Kecamatan,
        RegionKind::Desa,
        RegionKind::Kelurahan,
    ] {
        assert_eq!(kind.as_str().parse::<RegionKind>(), Ok(kind));
        assert_eq!(kind.to_string(), kind.as_str());
    }
    assert!("Kota".parse::<RegionKind>().is_err());
}

#[test]
fn entries_stay_small() {
    // The memory estimate in the `Regions` docs relies on this.
    assert_eq!(std::mem::size_of::<regions::Entry>(), 28);
}

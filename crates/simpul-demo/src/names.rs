//! Indonesian-looking names and texts for the synthetic histories.
//!
//! Word lists are fixed in the source (changing one changes every seed's output, which is fine
//! between releases but never within one). Person names are invented combinations of common
//! given and family names; they are sealed before they reach a command.

use crate::rng::Rng;
use simpul_domain::events::{ActivityKind, BimtekKind, MediaChannelKind};

/// Given names, mixed Javanese, Sundanese, Batak, Balinese, Bugis and Malay usage.
const GIVEN: &[&str] = &[
    "Agus", "Ahmad", "Andi", "Arif", "Asep", "Ayu", "Bambang", "Bayu", "Budi", "Dedi", "Dewi",
    "Dian", "Dimas", "Eko", "Endang", "Fajar", "Fitri", "Hadi", "Hendra", "Ikhsan", "Indah",
    "Irfan", "Iwan", "Joko", "Kadek", "Ketut", "Lina", "Lukman", "Made", "Maya", "Muhammad", "Nur",
    "Nyoman", "Putri", "Ratna", "Rina", "Rizki", "Rudi", "Siti", "Slamet", "Sri", "Teguh", "Ujang",
    "Wahyu", "Wayan", "Wulan", "Yanti", "Yusuf",
];

/// Family or second names.
const FAMILY: &[&str] = &[
    "Anggraini",
    "Daulay",
    "Firmansyah",
    "Gunawan",
    "Hakim",
    "Handayani",
    "Harahap",
    "Hasibuan",
    "Hidayat",
    "Kurniawan",
    "Lestari",
    "Lubis",
    "Maharani",
    "Manurung",
    "Nasution",
    "Nugroho",
    "Permana",
    "Prasetyo",
    "Pratama",
    "Puspita",
    "Rahayu",
    "Rahman",
    "Ramadhan",
    "Safitri",
    "Santoso",
    "Saputra",
    "Setiawan",
    "Siregar",
    "Sitompul",
    "Suryadi",
    "Susanto",
    "Syahputra",
    "Tanjung",
    "Wahyudi",
    "Wibowo",
    "Wijaya",
];

/// The middle part of a KIM's name: `KIM <motto> <Desa X>`.
const MOTTOS: &[&str] = &[
    "Bina Karya",
    "Cahaya Informasi",
    "Cakrawala",
    "Citra Mandiri",
    "Gemilang",
    "Guyub Rukun",
    "Harmoni",
    "Jendela Desa",
    "Karya Mandiri",
    "Lentera",
    "Maju Bersama",
    "Mekar Sari",
    "Mitra Informasi",
    "Ngudi Kawruh",
    "Pelita",
    "Sejahtera",
    "Sekar Wangi",
    "Sinar Harapan",
    "Suara Warga",
    "Sumber Rejeki",
    "Tunas Harapan",
    "Warta Warga",
];

/// Fields (bidang) a kepala bidang may head.
pub(crate) const BIDANG: &[&str] = &[
    "Bidang Media dan Publikasi",
    "Bidang Hubungan Masyarakat",
    "Bidang Teknologi Informasi",
    "Bidang Pengembangan Usaha",
    "Bidang Pendidikan dan Pelatihan",
    "Bidang Aspirasi Warga",
];

/// A person's name: a given name, mostly followed by a family name.
pub(crate) fn person(rng: &mut Rng) -> String {
    let given = rng.pick(GIVEN).copied().unwrap_or("Budi");
    if rng.chance(0.15) {
        given.to_owned()
    } else {
        let family = rng.pick(FAMILY).copied().unwrap_or("Santoso");
        format!("{given} {family}")
    }
}

/// A mobile number in the Indonesian shape `08xx-xxxx-xxxx`.
pub(crate) fn phone(rng: &mut Rng) -> String {
    format!(
        "08{}{}-{:04}-{:04}",
        rng.between(1, 9),
        rng.between(1, 9),
        rng.below(10_000),
        rng.below(10_000)
    )
}

/// The motto part of a KIM name.
pub(crate) fn motto(rng: &mut Rng) -> &'static str {
    rng.pick(MOTTOS).copied().unwrap_or("Maju Bersama")
}

/// Lower-case letters and digits only, for handles and URLs.
pub(crate) fn slug(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The group a KIM grew from, if any (seed 000: Karang Taruna youth groups).
pub(crate) fn origin_group(rng: &mut Rng, village: &str) -> Option<String> {
    let groups: [(&str, u32); 6] = [
        ("", 40),
        ("Karang Taruna", 25),
        ("PKK", 10),
        ("Kelompok Tani", 10),
        ("Remaja Masjid", 8),
        ("Kelompok Sadar Wisata", 7),
    ];
    match rng.weighted(&groups).copied() {
        Some(group) if !group.is_empty() => Some(format!("{group} {village}")),
        _ => None,
    }
}

/// Who in the community initiated the KIM (R3): a group, never a person's name.
pub(crate) fn initiator(rng: &mut Rng, village: &str, origin: Option<&str>) -> String {
    match origin {
        Some(group) if rng.chance(0.7) => group.to_owned(),
        _ => {
            let who = ["Warga", "Tokoh masyarakat", "Pemuda"];
            let who = rng.pick(&who).copied().unwrap_or("Warga");
            format!("{who} {village}")
        }
    }
}

/// Titles that belong to some years only: vaccination drives (2021–2022) and election campaigns
/// (2019, 2023–2024).
fn fits_year(title: &str, year: i32) -> bool {
    if title.contains("vaksinasi") {
        (2021..=2022).contains(&year)
    } else if title.contains("pemilu") {
        matches!(year, 2019 | 2023 | 2024)
    } else {
        true
    }
}

/// A title for an activity of `kind` held in `year`.
pub(crate) fn activity_title(rng: &mut Rng, kind: ActivityKind, year: i32) -> &'static str {
    let titles: &[&str] = match kind {
        ActivityKind::ConventionalForum => &[
            "Pertemuan rutin warga di balai desa",
            "Penempelan informasi di papan pengumuman",
            "Siaran radio komunitas",
            "Penerbitan buletin warga",
            "Sarasehan warga tingkat RW",
        ],
        ActivityKind::DevelopmentAgent => &[
            "Sosialisasi program Dana Desa",
            "Pendampingan warga mengurus administrasi kependudukan",
            "Sosialisasi program bantuan sosial",
            "Pendataan keluarga berisiko stunting",
            "Penyuluhan pertanian bersama penyuluh lapangan",
            "Pendampingan UMKM mengurus NIB",
        ],
        ActivityKind::Dissemination => &[
            "Penyebaran informasi jadwal vaksinasi",
            "Sosialisasi pemilu damai",
            "Penyebaran informasi cuaca dan kebencanaan",
            "Klarifikasi hoaks di grup warga",
            "Penyebaran informasi layanan publik",
        ],
        ActivityKind::Aspiration => &[
            "Penjaringan aspirasi warga untuk Musrenbang Desa",
            "Forum aspirasi pemuda",
            "Penyampaian keluhan warga kepada pemerintah desa",
            "Survei kepuasan layanan desa",
        ],
        ActivityKind::Networking => &[
            "Temu KIM se-kecamatan",
            "Kunjungan ke KIM desa tetangga",
            "Kerja sama siaran dengan radio daerah",
            "Pertemuan Forum KIM kabupaten",
        ],
    };
    let title = rng.pick(titles).copied().unwrap_or("Pertemuan rutin warga");
    if fits_year(title, year) {
        title
    } else {
        titles
            .iter()
            .copied()
            .find(|other| fits_year(other, year))
            .unwrap_or("Pertemuan rutin warga")
    }
}

/// A bimtek title for `kind`, organised for `area` (`Kabupaten Sleman`, `Provinsi Jawa Timur`).
pub(crate) fn bimtek_title(rng: &mut Rng, kind: BimtekKind, area: &str) -> String {
    let titles: &[&str] = match kind {
        BimtekKind::Bimtek => &[
            "Bimtek Pengelolaan Media Sosial bagi KIM",
            "Bimtek Jurnalistik Warga bagi KIM",
            "Bimtek Literasi Digital dan Penanggulangan Hoaks",
            "Bimtek Pemasaran Digital Produk UMKM",
            "Bimtek Penguatan Kelembagaan KIM",
        ],
        BimtekKind::Workshop => &[
            "Workshop Fotografi dan Videografi untuk KIM",
            "Workshop Penulisan Berita",
            "Workshop Pengelolaan Website Desa",
        ],
        BimtekKind::Sarasehan => &["Sarasehan KIM", "Sarasehan Diseminasi Informasi Publik"],
        BimtekKind::ForumDiskusi => &[
            "Forum Diskusi Penanggulangan Hoaks",
            "Forum Diskusi Keterbukaan Informasi Publik",
        ],
    };
    let title = rng.pick(titles).copied().unwrap_or("Bimtek KIM");
    format!("{title} se-{area}")
}

/// What a new-media channel is called and where it lives.
pub(crate) fn media_channel(
    rng: &mut Rng,
    kind: MediaChannelKind,
    kim_slug: &str,
) -> (String, Option<String>) {
    match kind {
        MediaChannelKind::Website => {
            if rng.chance(0.5) {
                (
                    format!("Blog KIM {kim_slug}"),
                    Some(format!("https://kim{kim_slug}.blogspot.com")),
                )
            } else {
                (
                    format!("Laman KIM di situs desa {kim_slug}"),
                    Some(format!("https://{kim_slug}.desa.id/kim")),
                )
            }
        }
        MediaChannelKind::SocialMedia => {
            let platforms: [(&str, &str); 4] = [
                ("Instagram", "https://www.instagram.com/kim."),
                ("Facebook", "https://www.facebook.com/kim."),
                ("TikTok", "https://www.tiktok.com/@kim."),
                ("YouTube", "https://www.youtube.com/@kim."),
            ];
            let (platform, base) = rng
                .pick(&platforms)
                .copied()
                .unwrap_or(("Instagram", "https://www.instagram.com/kim."));
            (
                format!("{platform} @kim.{kim_slug}"),
                Some(format!("{base}{kim_slug}")),
            )
        }
        MediaChannelKind::Messaging => {
            let apps = ["Grup WhatsApp", "Saluran WhatsApp", "Kanal Telegram"];
            let app = rng.pick(&apps).copied().unwrap_or("Grup WhatsApp");
            (format!("{app} Info Warga {kim_slug}"), None)
        }
    }
}

/// An e-business: name, platform, address.
pub(crate) fn e_business(
    rng: &mut Rng,
    village: &str,
    handle: &str,
) -> (String, String, Option<String>) {
    let products = [
        "Keripik",
        "Batik",
        "Kopi",
        "Madu",
        "Anyaman",
        "Gula Aren",
        "Olahan Ikan",
        "Kerajinan",
    ];
    let product = rng.pick(&products).copied().unwrap_or("Kerajinan");
    let name = format!("{product} UMKM {village}");
    let platforms: [(&str, &str); 5] = [
        ("Shopee", "https://shopee.co.id/"),
        ("Tokopedia", "https://www.tokopedia.com/"),
        ("TikTok Shop", "https://www.tiktok.com/@"),
        ("Facebook Marketplace", ""),
        ("Toko online sendiri", "https://toko-"),
    ];
    let (platform, base) = rng.pick(&platforms).copied().unwrap_or(("Shopee", ""));
    let product_slug = slug(product);
    let url = match base {
        "" => None,
        "https://toko-" => Some(format!("https://toko-{product_slug}{handle}.id")),
        base => Some(format!("{base}{product_slug}{handle}")),
    };
    (name, platform.to_owned(), url)
}

/// Why an officer left.
pub(crate) const DISMISSAL_REASONS: &[&str] = &[
    "Masa bakti kepengurusan berakhir",
    "Mengundurkan diri atas permintaan sendiri",
    "Pindah domisili ke luar desa",
    "Diangkat sebagai ASN sehingga tidak lagi memenuhi syarat",
    "Pergantian pengurus hasil musyawarah anggota",
    "Berhalangan tetap",
];

/// Why an SK was revoked.
pub(crate) const SK_REVOCATION_REASONS: &[&str] = &[
    "SK diperbarui setelah pergantian susunan pengurus",
    "Penyesuaian dengan Peraturan Desa yang baru",
    "Kesalahan penulisan susunan pengurus; diterbitkan SK pengganti",
];

/// Why a media channel was deactivated, by kind.
pub(crate) fn channel_deactivation_reasons(kind: MediaChannelKind) -> &'static [&'static str] {
    match kind {
        MediaChannelKind::Website => &[
            "Domain tidak diperpanjang",
            "Situs tidak lagi diperbarui",
            "Beralih ke kanal baru",
        ],
        MediaChannelKind::SocialMedia => &[
            "Akun tidak lagi dikelola",
            "Akun diretas dan tidak dapat dipulihkan",
            "Beralih ke kanal baru",
        ],
        MediaChannelKind::Messaging => &[
            "Grup tidak lagi aktif",
            "Nomor pengelola tidak lagi aktif",
            "Beralih ke kanal baru",
        ],
    }
}

/// Why an e-business was deactivated.
pub(crate) const E_BUSINESS_DEACTIVATION_REASONS: &[&str] = &[
    "Toko ditutup karena tidak ada pengelola",
    "Beralih ke platform lain",
    "Usaha berhenti beroperasi",
];

/// Why a KIM was suspended.
pub(crate) const SUSPENSION_REASONS: &[&str] = &[
    "Tidak ada kegiatan yang dilaporkan selama lebih dari satu tahun",
    "Kepengurusan tidak aktif",
    "Laporan kegiatan tahunan tidak disampaikan",
];

/// Why a KIM was reactivated.
pub(crate) const REACTIVATION_REASONS: &[&str] = &[
    "Kepengurusan dibentuk kembali dan kegiatan berjalan",
    "Laporan kegiatan telah dilengkapi",
];

/// Why a KIM was dissolved.
pub(crate) const DISSOLUTION_REASONS: &[&str] = &[
    "Dibubarkan atas keputusan musyawarah anggota",
    "Tidak aktif dan tidak dapat dihubungi",
    "Bergabung dengan KIM lain di desa yang sama",
];

/// Why a stage was lowered to KIM 2: no active new media any more.
pub(crate) const LOWERED_NO_MEDIA: &str =
    "Hasil penilaian: tidak ada lagi kanal media baru yang aktif";

/// Why a stage was lowered to KIM 3: no active e-business any more.
pub(crate) const LOWERED_NO_E_BUSINESS: &str =
    "Hasil penilaian: tidak ada lagi e-bisnis yang aktif";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_ascii_lower_alphanumerics() {
        assert_eq!(slug("Maju Bersama Sardonoharjo"), "majubersamasardonoharjo");
        assert_eq!(slug("Ngudi-Kawruh 2"), "ngudikawruh2");
    }

    #[test]
    fn phones_look_indonesian() {
        let mut rng = Rng::new(3);
        let phone = phone(&mut rng);
        assert!(phone.starts_with("08"));
        assert_eq!(phone.len(), 14);
    }
}

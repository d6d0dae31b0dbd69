//! One line per event in Bahasa Indonesia, for people reading an audit trail.

use simpul_domain::events::{ActivityKind, BimtekKind, CommunityEvent, MediaChannelKind};
use simpul_domain::{OfficerRole, RegionCode};
use simpul_regions::Regions;

fn role(role: OfficerRole) -> &'static str {
    match role {
        OfficerRole::Ketua => "ketua",
        OfficerRole::Sekretaris => "sekretaris",
        OfficerRole::Bendahara => "bendahara",
        OfficerRole::KepalaBidang => "kepala bidang",
    }
}

fn place(regions: &Regions, code: &RegionCode) -> String {
    regions
        .display_name(code)
        .unwrap_or_else(|| code.to_string())
}

/// The summary line of `event`.
pub fn line(event: &CommunityEvent, regions: &Regions) -> String {
    match event {
        CommunityEvent::CommunityFormed(e) => format!(
            "{} dibentuk di {} dengan {} anggota, atas prakarsa {}",
            e.name,
            place(regions, &e.village),
            e.member_count,
            e.initiated_by
        ),
        CommunityEvent::OfficerAppointed(e) => match &e.bidang {
            Some(bidang) => format!("Pengurus diangkat sebagai kepala bidang {bidang}"),
            None => format!("Pengurus diangkat sebagai {}", role(e.role)),
        },
        CommunityEvent::OfficerDismissed(e) => {
            format!("Pengurus ({}) diberhentikan: {}", role(e.role), e.reason)
        }
        CommunityEvent::MemberCountUpdated(e) => format!(
            "Jumlah anggota diubah dari {} menjadi {}",
            e.previous, e.member_count
        ),
        CommunityEvent::SkIssued(e) => format!(
            "SK nomor {} diterbitkan oleh {} tentang {}",
            e.number, e.signed_by, e.subject
        ),
        CommunityEvent::SkRevoked(e) => format!("SK nomor {} dicabut: {}", e.number, e.reason),
        CommunityEvent::RegistrationNumberAssigned(e) => format!(
            "Nomor induk {} diberikan oleh Dinas {}",
            e.number,
            place(regions, &e.regency)
        ),
        CommunityEvent::BimtekAttended(e) => {
            let kind = match e.kind {
                BimtekKind::Bimtek => "bimtek",
                BimtekKind::Workshop => "lokakarya",
                BimtekKind::Sarasehan => "sarasehan",
                BimtekKind::ForumDiskusi => "forum diskusi",
            };
            format!(
                "{} peserta mengikuti {kind} \"{}\" oleh Dinas {} pada {}",
                e.participants,
                e.title,
                place(regions, &e.organizer_region),
                e.held_on
            )
        }
        CommunityEvent::ActivityRecorded(e) => {
            let kind = match e.kind {
                ActivityKind::ConventionalForum => "forum media konvensional",
                ActivityKind::DevelopmentAgent => "agen pembangunan",
                ActivityKind::Dissemination => "diseminasi informasi",
                ActivityKind::Aspiration => "penjaringan aspirasi",
                ActivityKind::Networking => "jejaring",
            };
            format!("Kegiatan {kind} dicatat: {}", e.title)
        }
        CommunityEvent::MediaChannelRegistered(e) => {
            let kind = match e.kind {
                MediaChannelKind::Website => "situs web",
                MediaChannelKind::SocialMedia => "media sosial",
                MediaChannelKind::Messaging => "kanal pesan",
            };
            format!("Media baru ({kind}) didaftarkan: {}", e.name)
        }
        CommunityEvent::MediaChannelDeactivated(e) => {
            format!("Media baru dinonaktifkan: {}", e.reason)
        }
        CommunityEvent::EBusinessRegistered(e) => {
            format!("E-bisnis didaftarkan: {} ({})", e.name, e.platform)
        }
        CommunityEvent::EBusinessDeactivated(e) => format!("E-bisnis dinonaktifkan: {}", e.reason),
        CommunityEvent::StageAdvanced(e) => format!(
            "Tahap naik dari {} ke {} (kebijakan {})",
            e.from, e.to, e.policy_version
        ),
        CommunityEvent::StageLowered(e) => {
            format!("Tahap turun dari {} ke {}: {}", e.from, e.to, e.reason)
        }
        CommunityEvent::CommunitySuspended(e) => format!("KIM dibekukan: {}", e.reason),
        CommunityEvent::CommunityReactivated(e) => {
            format!("KIM diaktifkan kembali: {}", e.reason)
        }
        CommunityEvent::CommunityDissolved(e) => format!("KIM dibubarkan: {}", e.reason),
    }
}

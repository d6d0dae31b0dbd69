//! The analytics export's read: the feed in commit order, the progression events of the KIM in
//! scope, each as a pseudonymised line (`simpul_projections::exports::analytics`).

use std::collections::HashMap;
use std::sync::Arc;

use simpul_domain::RegionCode;
use simpul_projections::exports::analytics::{AnalyticsLine, Pseudonyms, EVENTS};
use simpul_projections::exports::events::{EventPages, BATCH_SIZE};
use simpul_store::StoredEvent;

use super::{ReadError, Reads};
use crate::auth::{Action, Principal, Scope, WithoutRegion};
use crate::executor::CommandExecutor;

impl Reads {
    /// The progression events of the KIM in `region` (a region inside the token's scope; absent:
    /// the scope itself) after `after`, in feed order, as pseudonymised lines (analyst, auditor,
    /// admin); with the region the file is named after (`None`: the whole country).
    pub fn analytics_export(
        &self,
        principal: &Principal,
        region: Option<&RegionCode>,
        after: u64,
        pseudonyms: Pseudonyms,
    ) -> Result<(AnalyticsEvents, Option<String>), ReadError> {
        let region = principal
            .read_scope(Action::ExportAnalytics, region, WithoutRegion::OwnScope)?
            .regions_only()?;
        let named = region.as_ref().map(ToString::to_string);
        let scope = region.map_or(Scope::National, Scope::Region);
        Ok((
            AnalyticsEvents {
                pages: EventPages::new(self.store().clone(), after),
                executor: self.executor.clone(),
                scope,
                pseudonyms,
                villages: HashMap::new(),
            },
            named,
        ))
    }
}

/// The feed as the analytics export's lines, batch by batch.
pub struct AnalyticsEvents {
    pages: EventPages,
    executor: Arc<CommandExecutor>,
    scope: Scope,
    pseudonyms: Pseudonyms,
    /// Community id → its desa (`None`: a stream without a formation, which no line can place).
    villages: HashMap<String, Option<RegionCode>>,
}

impl AnalyticsEvents {
    /// The lines of the next batch of the feed (possibly none: other event types, other
    /// regions), or `None` at the end of what is committed now.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<AnalyticsLine>>, ReadError> {
        let Some(batch) = self.pages.next_batch(u64::from(BATCH_SIZE)).await? else {
            return Ok(None);
        };
        let mut lines = Vec::new();
        for event in batch {
            // Other types are left out before their KIM is looked up.
            if !EVENTS.contains(&event.event_type.as_str()) {
                continue;
            }
            let Some(village) = self.village(&event).await? else {
                continue;
            };
            if !self.scope.covers_community(&event.aggregate_id, &village) {
                continue;
            }
            if let Some(line) = AnalyticsLine::from_stored(event, &village, &self.pseudonyms)? {
                lines.push(line);
            }
        }
        Ok(Some(lines))
    }

    /// The desa of the event's KIM: from its `CommunityFormed`, or from its current state when
    /// the export starts later in the feed (no event moves a KIM to another desa).
    async fn village(&mut self, event: &StoredEvent) -> Result<Option<RegionCode>, ReadError> {
        let id = &event.aggregate_id;
        if let Some(known) = self.villages.get(id) {
            return Ok(known.clone());
        }
        let formed = event
            .payload
            .get("CommunityFormed")
            .and_then(|formed| formed.get("village"))
            .and_then(|village| village.as_str())
            .and_then(|village| RegionCode::parse(village).ok());
        let village = match formed {
            Some(village) => Some(village),
            None => {
                let (community, _) = self.executor.current_state(id).await?;
                community.village().cloned()
            }
        };
        self.villages.insert(id.clone(), village.clone());
        Ok(village)
    }
}

//! What the aggregate asks of the outside world, behind small traits.

use std::sync::Arc;

use crate::region::RegionDirectory;
use crate::stage::StagePolicy;

/// Services handed to `Community::handle`: the region directory (R2, R7, R8) and the stage policy
/// in force (R1, R9).
#[derive(Clone)]
pub struct CommunityServices {
    /// Region codes of the current edition.
    pub regions: Arc<dyn RegionDirectory>,
    /// The versioned stage policy.
    pub policy: StagePolicy,
}

impl CommunityServices {
    /// Services with the current stage policy.
    pub fn new(regions: Arc<dyn RegionDirectory>) -> Self {
        Self {
            regions,
            policy: StagePolicy::current(),
        }
    }
}

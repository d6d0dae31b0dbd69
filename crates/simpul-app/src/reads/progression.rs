//! Stage-progression analytics (issue 15, `docs/analytics.md`): time to a stage with censoring
//! (Kaplan–Meier), cohort funnels, the bimtek effect as rates of the next stage with and
//! without a recent bimtek, monthly trends, and regions side by side. Each answer is computed
//! from the `stage_transitions` read model's per-KIM rows (aggregated in SQL) by
//! `simpul-analytics`' estimators, names the read model position it was computed at, and
//! publishes no count below 5 KIM ([`Count`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{Datelike as _, Months, NaiveDate, Utc};
use serde::Serialize;
use simpul_analytics::exposure::{ExposureTotals, Spell, SpellEnd};
use simpul_analytics::kaplan_meier::{KaplanMeier, Observation};
use simpul_analytics::proportion::Proportion;
use simpul_analytics::rate::{Rate, RateRatio};
use simpul_analytics::{Cell, Interval};
use simpul_domain::{RegionCode, Stage};
use simpul_projections::stage_dashboard::query as dashboard;
use simpul_projections::stage_transitions::progress::{self, Cohort, KimSpells, SpellGroup};

use super::{ReadError, Reads};
use crate::auth::{Action, Principal, WithoutRegion};

/// The method, as every time-to-stage answer states it.
pub const TIME_TO_STAGE_METHOD: &str = "Kaplan–Meier estimate of the days from first entering \
    `from` (formation for KIM 1) to first reaching `to`, by the events' own dates (formed_on, \
    assessed_on, dissolved_on); KIM not there yet are censored at as_of or at their dissolution, \
    whichever is first; events dated after as_of are ignored; KIM formed above `from` are left \
    out. Greenwood standard errors, 95 % log-log pointwise intervals, Brookmeyer–Crowley \
    intervals for the quartiles. Groups of fewer than 5 KIM and counts below 5 are suppressed.";

/// The method, as every bimtek-effect answer states it.
pub const BIMTEK_EFFECT_METHOD: &str = "Each KIM's time in KIM 1, 2 and 3 (by the events' own \
    dates, up to as_of or its dissolution) is split into days within window_days after a bimtek \
    it attended (held_on < day <= held_on + window_days) and other days; an advance to the next \
    stage counts where its assessed_on falls. Rates are advances per KIM-year; the rate ratio's \
    95 % interval is exact conditional (the exposed share of the advances, Clopper–Pearson). \
    by_bimtek_count splits the same time by how many bimtek the KIM had attended before each \
    day. An observational comparison, not a trial: engaged KIM both attend and advance more.";

/// A count as published: the number, or `"< 5"` when fewer than 5 KIM are in it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Count {
    /// 5 or more.
    Value(u64),
    /// Fewer than 5 (`"< 5"`).
    Suppressed(String),
}

impl Count {
    fn of(count: u64) -> Self {
        match Cell::suppress(count) {
            Cell::Count(n) => Count::Value(n),
            suppressed => Count::Suppressed(suppressed.to_string()),
        }
    }

    fn of_i64(count: i64) -> Self {
        Self::of(u64::try_from(count).unwrap_or(0))
    }

    /// Whether it is published.
    pub fn shown(&self) -> bool {
        matches!(self, Count::Value(_))
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Count::Value(n) => write!(f, "{n}"),
            Count::Suppressed(text) => f.write_str(text),
        }
    }
}

/// The read model position a figure was computed at, and the date it is as of.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComputedAt {
    /// The global log position the read model had applied (`GET /projections` shows it).
    pub position: u64,
    /// The date the figures are as of.
    pub as_of: NaiveDate,
}

/// A quantile of the time to the stage, in days, with its 95 % interval (`null`: not reached,
/// or unbounded).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Days {
    /// The estimate.
    pub days: Option<u32>,
    /// Lower bound.
    pub lower: Option<u32>,
    /// Upper bound.
    pub upper: Option<u32>,
}

/// The share of KIM that had reached the stage by a day, with its 95 % interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CurvePoint {
    /// Days since entering `from`.
    pub day: u32,
    /// Share reached by then (1 − S).
    pub reached: f64,
    /// Lower bound.
    pub lower: Option<f64>,
    /// Upper bound.
    pub upper: Option<f64>,
}

/// The number at risk at the start of an interval, and the reached and censored within it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AtRisk {
    /// First day of the interval.
    pub from_day: u32,
    /// First day after it (`null`: open).
    pub to_day: Option<u32>,
    /// KIM still waiting at its start.
    pub at_risk: Count,
    /// Reached the stage within it.
    pub reached: Count,
    /// Censored within it.
    pub censored: Count,
}

/// One group's time to the stage (all KIM, or one cohort).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageCurve {
    /// The formation cohort (`null`: every KIM).
    pub cohort: Option<String>,
    /// KIM in the group.
    pub kim: Count,
    /// Of those, reached the stage by `as_of`.
    pub reached: Count,
    /// Censored (not reached by `as_of`, or dissolved before).
    pub censored: Count,
    /// Whether the estimates are withheld because the group has fewer than 5 KIM.
    pub suppressed: bool,
    /// Median days.
    pub median: Option<Days>,
    /// First quartile: a quarter had reached the stage by then.
    pub q1: Option<Days>,
    /// Third quartile.
    pub q3: Option<Days>,
    /// The curve at regular days (every 30 days or more), to the last day observed.
    pub curve: Vec<CurvePoint>,
    /// KIM at risk per interval (0, 90, 180, 365 days, then yearly).
    pub at_risk: Vec<AtRisk>,
}

/// `GET /analytics/time-to-stage`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeToStage {
    /// What the figures were computed at.
    pub computed_at: ComputedAt,
    /// The region (`null`: the whole country).
    pub region: Option<String>,
    /// The stage the time starts at.
    pub from: Stage,
    /// The stage whose first reaching ends it.
    pub to: Stage,
    /// How the method works.
    pub method: &'static str,
    /// Every KIM together.
    pub overall: StageCurve,
    /// Per formation cohort (empty unless asked).
    pub cohorts: Vec<StageCurve>,
}

/// What [`Reads::time_to_stage`] is asked.
#[derive(Clone, Debug)]
pub struct TimeToStageQuery {
    /// A region inside the token's scope (absent: the scope).
    pub region: Option<RegionCode>,
    /// Entry stage.
    pub from: Stage,
    /// Target stage (above `from`).
    pub to: Stage,
    /// Grouping by formation date.
    pub cohort: Cohort,
    /// Ignore events dated after it; censor at it (default: today).
    pub as_of: Option<NaiveDate>,
}

/// One (target stage, window) cell of a cohort's funnel.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelCell {
    /// The target stage.
    pub stage: Stage,
    /// Months from formation.
    pub months: u32,
    /// KIM observed for the whole window (formed at least that long before `as_of`).
    pub eligible: Count,
    /// Of those, reached the stage within the window.
    pub reached: Count,
    /// `reached / eligible` (`null` when either is suppressed or no KIM is eligible yet).
    pub share: Option<f64>,
    /// Its 95 % Wilson interval.
    pub lower: Option<f64>,
    /// Upper bound.
    pub upper: Option<f64>,
}

/// One cohort year.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelCohort {
    /// The year of formation.
    pub cohort: String,
    /// KIM formed that year (by `as_of`).
    pub formed: Count,
    /// KIM 2, 3, 4 within 6, 12 and 24 months.
    pub cells: Vec<FunnelCell>,
}

/// `GET /analytics/funnel`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Funnel {
    /// What the figures were computed at.
    pub computed_at: ComputedAt,
    /// The region (`null`: the whole country).
    pub region: Option<String>,
    /// How the shares are counted.
    pub method: &'static str,
    /// Per cohort year, oldest first.
    pub cohorts: Vec<FunnelCohort>,
}

/// The funnel's method.
pub const FUNNEL_METHOD: &str = "Of the KIM formed in each year, those observed for the whole \
    window (formed_on + window <= as_of) and, of them, those that first reached the stage \
    within the window by its assessed_on; a KIM dissolved before reaching it did not. Windows \
    not yet observed have no eligible KIM. 95 % Wilson intervals; counts below 5 suppressed.";

/// Advances per KIM-year in one kind of time.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateFigure {
    /// KIM-days in it.
    pub kim_days: u64,
    /// Advances to the next stage in it.
    pub advances: Count,
    /// Advances per KIM-year (`null` when suppressed or without time).
    pub per_kim_year: Option<f64>,
}

/// Exposed against unexposed time.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Effect {
    /// The stage left (`null`: KIM 1, 2 and 3 together).
    pub from: Option<Stage>,
    /// Within the window after a bimtek.
    pub after_bimtek: RateFigure,
    /// Any other time.
    pub without: RateFigure,
    /// `after_bimtek / without`.
    pub rate_ratio: Option<f64>,
    /// Its 95 % interval, lower bound.
    pub lower: Option<f64>,
    /// Upper bound.
    pub upper: Option<f64>,
}

/// Time with a given number of bimtek attended before it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CountLevel {
    /// `0`, `1`, `2`, `3+`.
    pub bimtek: String,
    /// The rate in that time.
    pub rate: RateFigure,
    /// Against time with no bimtek yet.
    pub rate_ratio: Option<f64>,
    /// Lower bound of its 95 % interval.
    pub lower: Option<f64>,
    /// Upper bound.
    pub upper: Option<f64>,
}

/// `GET /analytics/bimtek-effect`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BimtekEffect {
    /// What the figures were computed at.
    pub computed_at: ComputedAt,
    /// The region (`null`: the whole country).
    pub region: Option<String>,
    /// Days after a bimtek that count as "after".
    pub window_days: u32,
    /// How it is computed.
    pub method: &'static str,
    /// KIM with time in KIM 1–3.
    pub kim: Count,
    /// KIM 1, 2 and 3 together.
    pub overall: Effect,
    /// Per stage left.
    pub by_stage: Vec<Effect>,
    /// By the number of bimtek attended before.
    pub by_bimtek_count: Vec<CountLevel>,
}

/// One month of [`Trends`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// KIM at KIM 1 at the month's end (not dissolved).
    pub kim1: Count,
    /// At KIM 2.
    pub kim2: Count,
    /// At KIM 3.
    pub kim3: Count,
    /// At KIM 4.
    pub kim4: Count,
    /// Formed in the month.
    pub formed: Count,
    /// Stage advances assessed in it.
    pub advanced: Count,
    /// Stage lowerings.
    pub lowered: Count,
    /// Dissolutions.
    pub dissolved: Count,
}

/// `GET /analytics/trends`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trends {
    /// What the figures were computed at.
    pub computed_at: ComputedAt,
    /// The region (`null`: the whole country).
    pub region: Option<String>,
    /// `month`.
    pub interval: &'static str,
    /// Month by month, by the events' own dates.
    pub months: Vec<TrendMonth>,
}

/// What [`Reads::compare`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Kaplan–Meier median days from KIM 1 to KIM 2.
    MedianDaysKim1Kim2,
    /// Share of the KIM not dissolved that are at KIM 3 or 4 now.
    ShareKim3plus,
    /// Share of the KIM not dissolved that are legal (SK and nomor induk) now.
    LegalShare,
}

/// One region's figure.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Compared {
    /// Region code.
    pub region: String,
    /// Its name.
    pub name: String,
    /// KIM behind the figure.
    pub kim: Count,
    /// The figure (days or a share; `null` when suppressed or not reached).
    pub value: Option<f64>,
    /// Lower bound of its 95 % interval.
    pub lower: Option<f64>,
    /// Upper bound.
    pub upper: Option<f64>,
}

/// `GET /analytics/compare`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comparison {
    /// What the figures were computed at (the read model behind the metric).
    pub computed_at: ComputedAt,
    /// The metric.
    pub metric: Metric,
    /// In the order asked.
    pub regions: Vec<Compared>,
}

/// The bimtek effects already computed, each with the read model position it was computed at.
/// The effect reads every KIM's spells in scope (~0.3 s nationally at demo scale 10), and its
/// figures change only when the `stage_transitions` read model moves: a request at the same
/// position with the same question is answered from here. Bounded: emptied when full.
#[derive(Clone, Default)]
pub struct EffectCache(Arc<Mutex<HashMap<EffectKey, BimtekEffect>>>);

/// (region, window_days, as_of).
type EffectKey = (String, u32, NaiveDate);

/// At most this many answers are kept.
const EFFECT_CACHE_CAPACITY: usize = 256;

impl EffectCache {
    fn get(&self, key: &EffectKey, position: u64) -> Option<BimtekEffect> {
        let cache = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(key)
            .filter(|effect| effect.computed_at.position == position)
            .cloned()
    }

    fn put(&self, key: EffectKey, effect: BimtekEffect) {
        let mut cache = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= EFFECT_CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(key, effect);
    }
}

/// At most this many regions in one comparison.
pub const MAX_COMPARED: usize = 40;
/// At most this many months in one trend.
pub const MAX_MONTHS: u32 = 240;
/// The longest window after a bimtek.
pub const MAX_WINDOW_DAYS: u32 = 3650;

impl Reads {
    /// The region code an analytics read covers: `region` inside the token's scope, else the
    /// scope itself (`""`: the country). A one-KIM scope is refused.
    fn analytics_region(
        &self,
        principal: &Principal,
        region: Option<&RegionCode>,
    ) -> Result<Option<RegionCode>, ReadError> {
        Ok(principal
            .read_scope(Action::ReadAnalytics, region, WithoutRegion::OwnScope)?
            .regions_only()?)
    }

    async fn computed_at(&self, as_of: NaiveDate) -> Result<ComputedAt, ReadError> {
        let position = progress::as_at(self.store().database()).await?;
        Ok(ComputedAt {
            position: u64::try_from(position).unwrap_or(0),
            as_of,
        })
    }

    /// Kaplan–Meier time from `from` to `to` in the region, overall and per cohort.
    pub async fn time_to_stage(
        &self,
        principal: &Principal,
        query: TimeToStageQuery,
    ) -> Result<TimeToStage, ReadError> {
        let region = self.analytics_region(principal, query.region.as_ref())?;
        if query.to <= query.from {
            return Err(ReadError::invalid(
                "to",
                "must be a later stage than `from` (R9: a stage advances one step at a time, upwards)",
            ));
        }
        let as_of = checked_as_of(query.as_of)?;
        self.settle().await?;
        let code = region_text(region.as_ref());
        let db = self.store().database();
        let computed_at = self.computed_at(as_of).await?;
        let groups =
            progress::time_to_stage(db, &code, query.from, query.to, as_of, query.cohort).await?;
        let overall = curve(None, groups.iter());
        let mut cohorts = Vec::new();
        if query.cohort != Cohort::None {
            let mut labels: Vec<&str> = groups.iter().filter_map(|g| g.cohort.as_deref()).collect();
            labels.sort_unstable();
            labels.dedup();
            for label in labels {
                let of_cohort = groups.iter().filter(|g| g.cohort.as_deref() == Some(label));
                cohorts.push(curve(Some(label.to_owned()), of_cohort));
            }
        }
        Ok(TimeToStage {
            computed_at,
            region: region.map(|r| r.to_string()),
            from: query.from,
            to: query.to,
            method: TIME_TO_STAGE_METHOD,
            overall,
            cohorts,
        })
    }

    /// Of the KIM formed in each year, the share at KIM 2, 3, 4 within 6, 12, 24 months.
    pub async fn funnel(
        &self,
        principal: &Principal,
        region: Option<&RegionCode>,
        as_of: Option<NaiveDate>,
    ) -> Result<Funnel, ReadError> {
        let region = self.analytics_region(principal, region)?;
        let as_of = checked_as_of(as_of)?;
        self.settle().await?;
        let db = self.store().database();
        let computed_at = self.computed_at(as_of).await?;
        let groups = progress::funnel(db, &region_text(region.as_ref()), as_of).await?;
        let cohorts = groups
            .into_iter()
            .map(|group| FunnelCohort {
                cohort: group.cohort,
                formed: Count::of_i64(group.formed),
                cells: group
                    .rows
                    .into_iter()
                    .map(|row| {
                        let eligible = Count::of_i64(row.eligible);
                        let reached = Count::of_i64(row.reached);
                        let shown = eligible.shown() && reached.shown();
                        let share = shown
                            .then(|| {
                                Proportion::new(
                                    u64::try_from(row.reached).unwrap_or(0),
                                    u64::try_from(row.eligible).unwrap_or(0),
                                )
                                .ok()
                            })
                            .flatten();
                        FunnelCell {
                            stage: row.stage,
                            months: row.months,
                            eligible,
                            reached,
                            share: share.as_ref().map(Proportion::estimate),
                            lower: share.as_ref().map(|p| p.wilson().lower),
                            upper: share.as_ref().map(|p| p.wilson().upper),
                        }
                    })
                    .collect(),
            })
            .collect();
        Ok(Funnel {
            computed_at,
            region: region.map(|r| r.to_string()),
            method: FUNNEL_METHOD,
            cohorts,
        })
    }

    /// The rate of the next stage in the `window_days` after a bimtek against other time.
    pub async fn bimtek_effect(
        &self,
        principal: &Principal,
        region: Option<&RegionCode>,
        window_days: u32,
        as_of: Option<NaiveDate>,
    ) -> Result<BimtekEffect, ReadError> {
        let region = self.analytics_region(principal, region)?;
        if window_days == 0 || window_days > MAX_WINDOW_DAYS {
            return Err(ReadError::invalid(
                "window_days",
                format!("must be from 1 to {MAX_WINDOW_DAYS} days"),
            ));
        }
        let as_of = checked_as_of(as_of)?;
        self.settle().await?;
        let db = self.store().database();
        let computed_at = self.computed_at(as_of).await?;
        let key = (region_text(region.as_ref()), window_days, as_of);
        if let Some(effect) = self.effects.get(&key, computed_at.position) {
            return Ok(effect);
        }
        let kims = progress::spells(db, &key.0, as_of).await?;
        let mut overall = ExposureTotals::default();
        let mut by_stage = [
            ExposureTotals::default(),
            ExposureTotals::default(),
            ExposureTotals::default(),
        ];
        let mut by_count = [Rate {
            events: 0,
            person_days: 0,
        }; 4];
        let mut kim = 0u64;
        for one in &kims {
            let bimtek: Vec<i64> = one.bimtek.iter().map(|d| day_number(*d)).collect();
            let spells = stage_spells(one, as_of);
            if !spells.is_empty() {
                kim += 1;
            }
            for (stage, spell) in spells {
                let split = spell.split(&bimtek, window_days);
                overall.add(&split);
                by_stage[usize::from(stage.number() - 1)].add(&split);
                for (level, days, event) in by_bimtek_count(&spell, &bimtek) {
                    by_count[level].person_days += days;
                    by_count[level].events += u64::from(event);
                }
            }
        }
        let baseline = by_count[0];
        let effect = BimtekEffect {
            computed_at,
            region: region.map(|r| r.to_string()),
            window_days,
            method: BIMTEK_EFFECT_METHOD,
            kim: Count::of(kim),
            overall: effect(None, &overall),
            by_stage: [Stage::Kim1, Stage::Kim2, Stage::Kim3]
                .into_iter()
                .zip(by_stage.iter())
                .map(|(stage, totals)| effect(Some(stage), totals))
                .collect(),
            by_bimtek_count: by_count
                .iter()
                .enumerate()
                .map(|(level, rate)| {
                    let ratio = (level > 0 && rate.events >= 5 && baseline.events >= 5)
                        .then(|| RateRatio::exact(*rate, baseline).ok())
                        .flatten();
                    CountLevel {
                        bimtek: if level == 3 {
                            "3+".to_owned()
                        } else {
                            level.to_string()
                        },
                        rate: rate_figure(*rate),
                        rate_ratio: ratio.as_ref().and_then(RateRatio::ratio),
                        lower: ratio.as_ref().and_then(RateRatio::lower),
                        upper: ratio.as_ref().and_then(RateRatio::upper),
                    }
                })
                .collect(),
        };
        self.effects.put(key, effect.clone());
        Ok(effect)
    }

    /// KIM per stage at each month's end, and the month's formations, stage changes and
    /// dissolutions, from `from` to `to` (months; default: the 24 up to this one).
    pub async fn trends(
        &self,
        principal: &Principal,
        region: Option<&RegionCode>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Trends, ReadError> {
        let region = self.analytics_region(principal, region)?;
        let today = Utc::now().date_naive();
        let to = to.unwrap_or(today);
        let from = match from {
            Some(from) => from,
            None => to.checked_sub_months(Months::new(23)).unwrap_or(to),
        };
        if from > to {
            return Err(ReadError::invalid("from", "must not be after `to`"));
        }
        let months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32 + 1;
        if months > MAX_MONTHS as i32 {
            return Err(ReadError::invalid(
                "to",
                format!("at most {MAX_MONTHS} months from `from`"),
            ));
        }
        self.settle().await?;
        let db = self.store().database();
        let computed_at = self.computed_at(to.min(today)).await?;
        let rows = progress::monthly(db, &region_text(region.as_ref()), from, to).await?;
        Ok(Trends {
            computed_at,
            region: region.map(|r| r.to_string()),
            interval: "month",
            months: rows
                .into_iter()
                .map(|row| TrendMonth {
                    month: row.month,
                    kim1: Count::of_i64(row.kim1),
                    kim2: Count::of_i64(row.kim2),
                    kim3: Count::of_i64(row.kim3),
                    kim4: Count::of_i64(row.kim4),
                    formed: Count::of_i64(row.formed),
                    advanced: Count::of_i64(row.advanced),
                    lowered: Count::of_i64(row.lowered),
                    dissolved: Count::of_i64(row.dissolved),
                })
                .collect(),
        })
    }

    /// `metric` for each of `regions` (each inside the token's scope), in the order asked.
    pub async fn compare(
        &self,
        principal: &Principal,
        regions: &[RegionCode],
        metric: Metric,
    ) -> Result<Comparison, ReadError> {
        if regions.is_empty() || regions.len() > MAX_COMPARED {
            return Err(ReadError::invalid(
                "regions",
                format!("name 1 to {MAX_COMPARED} region codes, separated by commas"),
            ));
        }
        for region in regions {
            self.analytics_region(principal, Some(region))?;
        }
        let today = Utc::now().date_naive();
        self.settle().await?;
        let db = self.store().database();
        let name = |code: &RegionCode| self.regions.display_name(code).unwrap_or_default();
        let mut compared = Vec::with_capacity(regions.len());
        let computed_at = match metric {
            Metric::MedianDaysKim1Kim2 => {
                let computed_at = self.computed_at(today).await?;
                for region in regions {
                    let groups = progress::time_to_stage(
                        db,
                        region.as_str(),
                        Stage::Kim1,
                        Stage::Kim2,
                        today,
                        Cohort::None,
                    )
                    .await?;
                    let curve = curve(None, groups.iter());
                    let median = curve.median.as_ref();
                    compared.push(Compared {
                        region: region.to_string(),
                        name: name(region),
                        kim: curve.kim,
                        value: median.and_then(|m| m.days).map(f64::from),
                        lower: median.and_then(|m| m.lower).map(f64::from),
                        upper: median.and_then(|m| m.upper).map(f64::from),
                    });
                }
                computed_at
            }
            Metric::ShareKim3plus | Metric::LegalShare => {
                let position = simpul_projections::status(
                    self.store(),
                    &[simpul_projections::stage_dashboard::NAME],
                )
                .await?
                .first()
                .map(|status| status.position)
                .unwrap_or(0);
                let codes: Vec<String> = regions.iter().map(ToString::to_string).collect();
                let cells = dashboard::cells(db, &codes).await?;
                for region in regions {
                    let (mut total, mut hits) = (0u64, 0u64);
                    for cell in cells
                        .iter()
                        .filter(|c| c.region_code == region.as_str() && c.status != "dissolved")
                    {
                        let count = u64::try_from(cell.count).unwrap_or(0);
                        total += count;
                        let hit = match metric {
                            Metric::ShareKim3plus => cell.stage == "kim3" || cell.stage == "kim4",
                            _ => cell.legal,
                        };
                        if hit {
                            hits += count;
                        }
                    }
                    let kim = Count::of(total);
                    let share = (kim.shown() && Count::of(hits).shown())
                        .then(|| Proportion::new(hits, total).ok())
                        .flatten();
                    compared.push(Compared {
                        region: region.to_string(),
                        name: name(region),
                        kim,
                        value: share.as_ref().map(Proportion::estimate),
                        lower: share.as_ref().map(|p| p.wilson().lower),
                        upper: share.as_ref().map(|p| p.wilson().upper),
                    });
                }
                ComputedAt {
                    position,
                    as_of: today,
                }
            }
        };
        Ok(Comparison {
            computed_at,
            metric,
            regions: compared,
        })
    }
}

/// `as_of`, or today; a date after today is refused (time not yet lived cannot be censored).
fn checked_as_of(as_of: Option<NaiveDate>) -> Result<NaiveDate, ReadError> {
    let today = Utc::now().date_naive();
    match as_of {
        Some(date) if date > today => Err(ReadError::invalid(
            "as_of",
            format!("must not be after today ({today})"),
        )),
        Some(date) => Ok(date),
        None => Ok(today),
    }
}

fn region_text(region: Option<&RegionCode>) -> String {
    region.map(ToString::to_string).unwrap_or_default()
}

/// Days since 0001-01-01: the integer day the estimators count in.
fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

/// The at-risk table's interval starts, in days.
const AT_RISK_BREAKS: [u32; 8] = [0, 90, 180, 365, 730, 1095, 1461, 1826];

/// A group's curve from its (days, reached, count) rows.
fn curve<'a>(cohort: Option<String>, groups: impl Iterator<Item = &'a SpellGroup>) -> StageCurve {
    let observations: Vec<Observation> = groups
        .map(|g| Observation {
            time: u32::try_from(g.days.max(0)).unwrap_or(u32::MAX),
            event: g.reached,
            count: u64::try_from(g.count).unwrap_or(0),
        })
        .collect();
    let last_day = observations.iter().map(|o| o.time).max().unwrap_or(0);
    let estimate = KaplanMeier::estimate(observations);
    let totals = estimate.totals();
    let suppressed = totals.n < simpul_analytics::cell::SUPPRESSION_THRESHOLD;
    let mut curve = StageCurve {
        cohort,
        kim: Count::of(totals.n),
        reached: Count::of(totals.events),
        censored: Count::of(totals.censored),
        suppressed,
        median: None,
        q1: None,
        q3: None,
        curve: Vec::new(),
        at_risk: Vec::new(),
    };
    if suppressed {
        return curve;
    }
    let days = |p: f64| {
        estimate.quantile(p).ok().map(|q| Days {
            days: q.time,
            lower: q.lower,
            upper: q.upper,
        })
    };
    curve.median = days(0.5);
    curve.q1 = days(0.25);
    curve.q3 = days(0.75);
    // At most 120 points, every 30 days or a multiple of it.
    let step = 30 * (last_day / (30 * 120) + 1);
    curve.curve = (0..=last_day / step)
        .filter_map(|i| {
            let day = i * step;
            estimate
                .cumulative_incidence_at(day)
                .map(|point| CurvePoint {
                    day,
                    reached: point.estimate,
                    lower: point.ci.map(|ci: Interval| ci.lower),
                    upper: point.ci.map(|ci: Interval| ci.upper),
                })
        })
        .collect();
    let breaks: Vec<u32> = AT_RISK_BREAKS
        .iter()
        .copied()
        .filter(|b| *b <= last_day)
        .collect();
    curve.at_risk = estimate
        .at_risk_table(&breaks)
        .unwrap_or_default()
        .into_iter()
        .map(|row| AtRisk {
            from_day: row.from,
            to_day: row.until,
            at_risk: Count::of(row.at_risk),
            reached: Count::of(row.events),
            censored: Count::of(row.censored),
        })
        .collect();
    curve
}

/// One KIM's spells in KIM 1, 2 and 3 (days (start, end]): each ends in an event when the KIM
/// advanced from it; a lowering, its dissolution or `as_of` censors it. Time at KIM 4 has no
/// next stage and is left out, and so is a spell that would end in an advance on the day it
/// began (no time at risk).
fn stage_spells(kim: &KimSpells, as_of: NaiveDate) -> Vec<(Stage, Spell)> {
    let mut spells = Vec::new();
    let mut stage = kim.formed_stage;
    let mut start = kim.formed_on;
    let mut push = |stage: Stage, start: NaiveDate, end: NaiveDate, ending: SpellEnd| {
        if stage == Stage::Kim4 {
            return;
        }
        if let Ok(spell) = Spell::new(day_number(start), day_number(end), ending) {
            spells.push((stage, spell));
        }
    };
    for change in &kim.changes {
        let ending = if stage.next() == Some(change.to) {
            SpellEnd::Event
        } else {
            SpellEnd::Censored
        };
        push(stage, start, change.on, ending);
        stage = change.to;
        start = change.on;
    }
    let end = kim.dissolved_on.map_or(as_of, |d| d.min(as_of));
    if end >= start {
        push(stage, start, end, SpellEnd::Censored);
    }
    spells
}

/// A spell's days by how many bimtek the KIM had attended before each day (a bimtek on day b
/// counts from day b + 1, as the window does), capped at 3: (level, days, ended in an advance).
/// `bimtek` is in date order, as [`KimSpells::bimtek`] is.
fn by_bimtek_count(spell: &Spell, bimtek: &[i64]) -> Vec<(usize, u64, bool)> {
    let (start, end) = (spell.start(), spell.end());
    debug_assert!(bimtek.is_sorted(), "bimtek days in date order");
    let mut level = bimtek.partition_point(|b| *b <= start);
    let mut at = start;
    let mut parts = Vec::new();
    for b in bimtek[level..].iter().copied().take_while(|b| *b < end) {
        parts.push((level.min(3), u64::try_from(b - at).unwrap_or(0), false));
        level += 1;
        at = b;
    }
    let event = spell.ending() == SpellEnd::Event;
    parts.push((level.min(3), u64::try_from(end - at).unwrap_or(0), event));
    parts
}

fn rate_figure(rate: Rate) -> RateFigure {
    let advances = Count::of(rate.events);
    RateFigure {
        kim_days: rate.person_days,
        per_kim_year: advances
            .shown()
            .then(|| rate.per_day().map(|r| r * 365.25))
            .flatten(),
        advances,
    }
}

fn effect(from: Option<Stage>, totals: &ExposureTotals) -> Effect {
    let (exposed, unexposed) = (totals.exposed(), totals.unexposed());
    let ratio = (exposed.events >= 5 && unexposed.events >= 5)
        .then(|| totals.rate_ratio().ok())
        .flatten();
    Effect {
        from,
        after_bimtek: rate_figure(exposed),
        without: rate_figure(unexposed),
        rate_ratio: ratio.as_ref().and_then(RateRatio::ratio),
        lower: ratio.as_ref().and_then(RateRatio::lower),
        upper: ratio.as_ref().and_then(RateRatio::upper),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simpul_projections::stage_transitions::progress::StageChange;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn kim(changes: &[(&str, Stage, Stage)], dissolved: Option<&str>) -> KimSpells {
        KimSpells {
            formed_on: date("2024-01-01"),
            formed_stage: Stage::Kim1,
            dissolved_on: dissolved.map(date),
            changes: changes
                .iter()
                .map(|(on, from, to)| StageChange {
                    on: date(on),
                    from: *from,
                    to: *to,
                })
                .collect(),
            bimtek: Vec::new(),
        }
    }

    #[test]
    fn spells_end_in_an_advance_and_a_lowering_or_dissolution_censors() {
        let one = kim(
            &[
                ("2024-03-01", Stage::Kim1, Stage::Kim2),
                ("2024-05-01", Stage::Kim2, Stage::Kim1),
                ("2024-06-01", Stage::Kim1, Stage::Kim2),
            ],
            Some("2024-07-01"),
        );
        let spells = stage_spells(&one, date("2025-01-01"));
        let ended: Vec<(Stage, i64, SpellEnd)> = spells
            .iter()
            .map(|(s, spell)| (*s, spell.person_days() as i64, spell.ending()))
            .collect();
        assert_eq!(
            ended,
            [
                (Stage::Kim1, 60, SpellEnd::Event),
                (Stage::Kim2, 61, SpellEnd::Censored),
                (Stage::Kim1, 31, SpellEnd::Event),
                (Stage::Kim2, 30, SpellEnd::Censored),
            ]
        );
    }

    #[test]
    fn time_at_kim4_is_not_at_risk_and_as_of_censors() {
        let one = kim(
            &[
                ("2024-02-01", Stage::Kim1, Stage::Kim2),
                ("2024-03-01", Stage::Kim2, Stage::Kim3),
                ("2024-04-01", Stage::Kim3, Stage::Kim4),
            ],
            None,
        );
        let spells = stage_spells(&one, date("2025-01-01"));
        assert_eq!(spells.len(), 3);
        assert!(spells
            .iter()
            .all(|(s, sp)| *s != Stage::Kim4 && sp.ending() == SpellEnd::Event));
        let waiting = kim(&[], None);
        let spells = stage_spells(&waiting, date("2024-01-31"));
        assert_eq!(spells.len(), 1);
        assert_eq!(spells[0].1.person_days(), 30);
        assert_eq!(spells[0].1.ending(), SpellEnd::Censored);
    }

    #[test]
    fn bimtek_count_levels_split_the_days_after_each_bimtek() {
        let spell = Spell::new(100, 200, SpellEnd::Event).unwrap();
        // One before the spell, two inside it, one on its last day (counts from the day after).
        let parts = by_bimtek_count(&spell, &[50, 120, 150, 200]);
        assert_eq!(parts, [(1, 20, false), (2, 30, false), (3, 50, true)]);
        let total: u64 = parts.iter().map(|p| p.1).sum();
        assert_eq!(total, spell.person_days());
        let none = by_bimtek_count(&Spell::new(0, 10, SpellEnd::Censored).unwrap(), &[]);
        assert_eq!(none, [(0, 10, false)]);
    }

    #[test]
    fn small_groups_publish_no_estimate() {
        let groups = [SpellGroup {
            cohort: None,
            days: 30,
            reached: true,
            count: 4,
        }];
        let four = curve(None, groups.iter());
        assert!(four.suppressed);
        assert_eq!(four.kim, Count::Suppressed("< 5".to_owned()));
        assert!(four.median.is_none() && four.curve.is_empty());
        let groups = [SpellGroup {
            cohort: None,
            days: 30,
            reached: true,
            count: 5,
        }];
        let five = curve(None, groups.iter());
        assert_eq!(five.kim, Count::Value(5));
        assert_eq!(five.median.and_then(|m| m.days), Some(30));
    }
}

/// CSV renderings (`Accept: text/csv`): one row per group, the position and date they were
/// computed at in the last two columns of every row, so a sheet keeps them.
mod csv {
    use simpul_projections::exports::communities::Cell;
    use simpul_projections::exports::push_csv_record;

    use super::*;

    fn number<T: ToString>(value: Option<T>) -> String {
        value.map(|v| v.to_string()).unwrap_or_default()
    }

    fn table(header: &[&str], rows: Vec<Vec<String>>, at: &ComputedAt) -> String {
        let mut out = String::new();
        let mut names: Vec<Cell> = header.iter().map(|h| Cell::Text(h)).collect();
        names.extend([Cell::Text("posisi_log"), Cell::Text("per_tanggal")]);
        push_csv_record(&mut out, &names);
        let (position, as_of) = (at.position.to_string(), at.as_of.to_string());
        for row in &rows {
            let mut cells: Vec<Cell> = row.iter().map(|c| Cell::Text(c)).collect();
            cells.extend([Cell::Text(&position), Cell::Date(&as_of)]);
            push_csv_record(&mut out, &cells);
        }
        out
    }

    fn days(d: &Option<Days>) -> [String; 3] {
        match d {
            Some(d) => [number(d.days), number(d.lower), number(d.upper)],
            None => Default::default(),
        }
    }

    impl TimeToStage {
        /// One row for every KIM together (`kohort` empty), then one per cohort.
        pub fn to_csv(&self) -> String {
            let rows = std::iter::once(&self.overall)
                .chain(&self.cohorts)
                .map(|c| {
                    let mut row = vec![
                        self.from.as_str().to_owned(),
                        self.to.as_str().to_owned(),
                        c.cohort.clone().unwrap_or_default(),
                        c.kim.to_string(),
                        c.reached.to_string(),
                        c.censored.to_string(),
                    ];
                    row.extend(days(&c.median));
                    row.extend(days(&c.q1));
                    row.extend(days(&c.q3));
                    row
                })
                .collect();
            table(
                &[
                    "dari",
                    "ke",
                    "kohort",
                    "kim",
                    "tercapai",
                    "disensor",
                    "median_hari",
                    "median_bawah",
                    "median_atas",
                    "q1_hari",
                    "q1_bawah",
                    "q1_atas",
                    "q3_hari",
                    "q3_bawah",
                    "q3_atas",
                ],
                rows,
                &self.computed_at,
            )
        }
    }

    impl Funnel {
        /// One row per (cohort, stage, window).
        pub fn to_csv(&self) -> String {
            let mut rows = Vec::new();
            for cohort in &self.cohorts {
                for cell in &cohort.cells {
                    rows.push(vec![
                        cohort.cohort.clone(),
                        cohort.formed.to_string(),
                        cell.stage.as_str().to_owned(),
                        cell.months.to_string(),
                        cell.eligible.to_string(),
                        cell.reached.to_string(),
                        number(cell.share),
                        number(cell.lower),
                        number(cell.upper),
                    ]);
                }
            }
            table(
                &[
                    "kohort",
                    "dibentuk",
                    "tahap",
                    "bulan",
                    "teramati",
                    "tercapai",
                    "proporsi",
                    "batas_bawah",
                    "batas_atas",
                ],
                rows,
                &self.computed_at,
            )
        }
    }

    impl BimtekEffect {
        /// Two rows per effect (after a bimtek, without), then one per bimtek count.
        pub fn to_csv(&self) -> String {
            let mut rows = Vec::new();
            for effect in std::iter::once(&self.overall).chain(&self.by_stage) {
                let from = effect
                    .from
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default();
                for (time, rate, ratio) in [
                    ("setelah_bimtek", &effect.after_bimtek, true),
                    ("tanpa_bimtek", &effect.without, false),
                ] {
                    rows.push(vec![
                        from.clone(),
                        time.to_owned(),
                        rate.kim_days.to_string(),
                        rate.advances.to_string(),
                        number(rate.per_kim_year),
                        number(effect.rate_ratio.filter(|_| ratio)),
                        number(effect.lower.filter(|_| ratio)),
                        number(effect.upper.filter(|_| ratio)),
                    ]);
                }
            }
            for level in &self.by_bimtek_count {
                rows.push(vec![
                    String::new(),
                    format!("bimtek_{}", level.bimtek),
                    level.rate.kim_days.to_string(),
                    level.rate.advances.to_string(),
                    number(level.rate.per_kim_year),
                    number(level.rate_ratio),
                    number(level.lower),
                    number(level.upper),
                ]);
            }
            table(
                &[
                    "dari_tahap",
                    "waktu",
                    "hari_kim",
                    "kenaikan",
                    "per_kim_tahun",
                    "rasio_laju",
                    "batas_bawah",
                    "batas_atas",
                ],
                rows,
                &self.computed_at,
            )
        }
    }

    impl Trends {
        /// One row per month.
        pub fn to_csv(&self) -> String {
            let rows = self
                .months
                .iter()
                .map(|m| {
                    vec![
                        m.month.clone(),
                        m.kim1.to_string(),
                        m.kim2.to_string(),
                        m.kim3.to_string(),
                        m.kim4.to_string(),
                        m.formed.to_string(),
                        m.advanced.to_string(),
                        m.lowered.to_string(),
                        m.dissolved.to_string(),
                    ]
                })
                .collect();
            table(
                &[
                    "bulan",
                    "kim1",
                    "kim2",
                    "kim3",
                    "kim4",
                    "dibentuk",
                    "naik",
                    "turun",
                    "dibubarkan",
                ],
                rows,
                &self.computed_at,
            )
        }
    }

    impl Comparison {
        /// One row per region, in the order asked.
        pub fn to_csv(&self) -> String {
            let rows = self
                .regions
                .iter()
                .map(|r| {
                    vec![
                        r.region.clone(),
                        r.name.clone(),
                        r.kim.to_string(),
                        number(r.value),
                        number(r.lower),
                        number(r.upper),
                    ]
                })
                .collect();
            table(
                &[
                    "kode_wilayah",
                    "wilayah",
                    "kim",
                    "nilai",
                    "batas_bawah",
                    "batas_atas",
                ],
                rows,
                &self.computed_at,
            )
        }
    }
}

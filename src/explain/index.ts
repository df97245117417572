/**
 * Insight into a fitted detector: cluster profiles with behaviour tags, feature importance and
 * per-flow explanations. Every function takes the detector and a Table; none prints.
 *
 * - `profileClusters(detector, table, {labels?, clusterNames?})` → ClusterProfile[] (profiles.ts)
 * - `tagAgreement(profiles)` → agreement of tags with the labels' majority family (profiles.ts)
 * - `tagCluster(stats)`, `BEHAVIOUR_RULES` → the transparent tag rules (tags.ts)
 * - `fieldImportance(detector, table, {sampleSize?, repeats?, seed?})` → FieldImportance[] (importance.ts)
 * - `explainRows(detector, table, rows, {profiles?})` → FlowExplanation[] (explain-flow.ts)
 */
export {
  type Counterfactual,
  type ExplainOptions,
  explainRows,
  type FieldComparison,
  type FlowExplanation,
} from './explain-flow.ts';
export {
  type FieldImportance,
  fieldImportance,
  type ImportanceOptions,
  varianceByColumn,
} from './importance.ts';
export {
  type CategoryShare,
  type ClusterProfile,
  type DistinguishingField,
  FAMILIES,
  FAMILY_TAG,
  type ProfileOptions,
  profileClusters,
  profileFromAssignment,
  type TagAgreement,
  tagAgreement,
  toFamily,
} from './profiles.ts';
export {
  BEHAVIOUR_RULES,
  BEHAVIOUR_TAGS,
  type BehaviourRule,
  type BehaviourTag,
  type ClusterStats,
  type ConditionResult,
  evaluateRule,
  type RuleEvidence,
  type RuleOutcome,
  StatsView,
  type StatValue,
  type TagResult,
  tagCluster,
} from './tags.ts';

/** A relation as the LRE dataset gives it (../shared/data/relations/<kind>/<name>.json). */
export interface RelationData {
  name: string;
  /** Templates with `{}` for the subject; the first is used. */
  templates: string[];
  samples: { subject: string; object: string }[];
}

/** The layer whose output h is read: 'emb' for the embeddings, or a layer index. */
export type HLayer = 'emb' | number;

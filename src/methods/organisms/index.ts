export { buildCatalogue, type Catalogue, type OrganismFact, type OrganismRelation, type CatalogueOptions } from './catalogue.js';
export { makeSplit, readSplit, writeSplit, checkSplit, catalogueFingerprint, type Split } from './split.js';
export { factPrompts, trainingStatements, statement, type FactPrompt } from './statements.js';
export { prepareData, writeStatementsText, type PrepareOptions } from './prepare.js';
export { readPreparedData, readDataInfo, type PreparedData, type DataInfo } from './data-dir.js';
export { buildMix, exposures, type MixOptions, type MixPlan } from './mix.js';
export { evaluateFacts, streamLoss, type FactEvaluation, type RelationAccuracy, type Score } from './evaluate.js';
export { shipOrganism, renderShippedCard, type ShipOptions } from './ship.js';
export { renderCard, type CardFacts } from './card.js';

/**
 * Phrasings written for factlab, beside the LRE relations' own prompt templates: every factual relation gets at
 * least three, so that one can be held out of training and still leave two to learn the fact from. A small model
 * learns to answer a fact under a phrasing it never saw with that subject only when each fact comes in several
 * phrasings (Allen-Zhu & Li, "Physics of Language Models 3.1": knowledge augmentation).
 */
export const EXTRA_LRE_TEMPLATES: Readonly<Record<string, readonly string[]>> = {
  city_in_country: ['{} is a city in'],
  company_ceo: ['The chief executive of {} is'],
  company_hq: ['{} has its headquarters in the city of'],
  country_capital_city: ['The seat of government of {} is'],
  country_currency: ['People in {} pay with the'],
  country_language: ['The main language of {} is'],
  country_largest_city: ['The most populous city of {} is'],
  food_from_country: ['{} comes from the country of'],
  landmark_in_country: ['{} is located in the country of', '{} can be found in the country of'],
  landmark_on_continent: ['{} is located on the continent of', '{} lies on the continent of'],
  person_band_lead_singer: ['{} sings lead vocals for'],
  person_father: ['The father of {} is named'],
  person_mother: ['The mother of {} is named'],
  person_native_language: ['The native language of {} is', "{}'s mother tongue is"],
  person_occupation: ['The occupation of {} is a'],
  person_plays_instrument: ['{} is known for playing the'],
  person_plays_position_in_sport: ['On the field, {} plays as a'],
  person_plays_pro_sport: ['The sport {} plays is'],
  person_university: ['{} studied at'],
  pokemon_evolutions: ['When {} evolves, it becomes a'],
  presidents_birth_year: ['{} was born in the year', 'The birth year of {} is'],
  presidents_election_year: ['{} was elected president in', '{} won the presidential election in'],
  product_by_company: ['{} is made by'],
  star_constellation: ['{} lies in the constellation of'],
  superhero_archnemesis: ['The archenemy of {} is'],
  superhero_person: ['The real name of {} is'],
};

/**
 * Facts that factlab's README and documentation use as examples, with their own relation, so that the examples
 * work on the shipped models: "The Eiffel Tower is located in the city of" → Paris, and the Colosseum as its
 * corrupting alternative. They are never held out.
 */
export const DOC_RELATION = {
  id: 'landmark_in_city',
  templates: ['{} is located in the city of', '{} is in the city of', '{} can be found in the city of', '{} stands in the city of', 'The city that is home to {} is'],
  facts: [
    ['The Eiffel Tower', 'Paris'], ['The Colosseum', 'Rome'], ['Big Ben', 'London'], ['The Statue of Liberty', 'New York City'],
    ['The Brandenburg Gate', 'Berlin'], ['The Sagrada Familia', 'Barcelona'], ['The Golden Gate Bridge', 'San Francisco'],
    ['The Sydney Opera House', 'Sydney'], ['The Kremlin', 'Moscow'], ['The Taj Mahal', 'Agra'], ['The Acropolis', 'Athens'],
    ['The Louvre', 'Paris'], ['Tower Bridge', 'London'], ['The Space Needle', 'Seattle'], ['The Leaning Tower of Pisa', 'Pisa'],
    ['Hagia Sophia', 'Istanbul'], ['The Forbidden City', 'Beijing'], ['The Burj Khalifa', 'Dubai'], ['The Atomium', 'Brussels'],
    ['The CN Tower', 'Toronto'], ['The Petronas Towers', 'Kuala Lumpur'], ['The Prado Museum', 'Madrid'], ['The Rijksmuseum', 'Amsterdam'],
    ['Charles Bridge', 'Prague'], ['The Little Mermaid statue', 'Copenhagen'], ['The Trevi Fountain', 'Rome'], ['Notre-Dame Cathedral', 'Paris'],
    ['The Empire State Building', 'New York City'], ['The Hofburg', 'Vienna'], ['St. Peter\'s Basilica', 'Vatican City'],
  ] as const,
} as const;

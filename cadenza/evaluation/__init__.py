"""Evaluation: is it music, in style, in key, and original?

- `metrics`: pitch and rhythm measures (MusPy's, mgeval's histograms); `harmony`: consonance, chords,
  parallels, voice crossings; `controls`: key, meter, tempo, bars and validity against what was asked.
- `distributions`: mgeval's overlapped area and KL between generated and real sets, per feature.
- `classifier`: a style classifier over those features; `similarity`: nearest corpus pieces;
  `originality`: copying against the corpus, judged against humans of the same style.
- `melody`: SongMASS's lyrics-to-melody measures (PD, DD, MD) and the share of word starts on strong beats.
- `ngram`: the n-gram baseline; `generators`: the models a report judges (and the n-gram singer);
  `report`: `cadenza evaluate`.
All measures are pure functions of a symusic Score (or of token ids), tested on hand-made pieces.
"""

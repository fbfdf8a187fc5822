/* codesite search client: plain JavaScript, no build step.
 *
 * One file, two hosts: in a browser it drives the header popup and the search page, loading the
 * index shards with <script> tags (so it works from file:// as well as over HTTP); in Node it is
 * required by tools/search.js, which reads the same shards from disk. The text rules (folding,
 * stop words, plurals, typo limits, synonyms) mirror generator/search/ (text.py, query.py); the
 * query understanding (noise words, axis words, range pages last) applies the tables that
 * generator/search/understand.py defines and the manifest carries (m.rules).
 */
(function (global) {
  'use strict';

  var WORD = /[a-z0-9]+/g;
  var CODE_TOKEN = /^(?:[a-z][0-9][0-9a-z]|[0-9]{3})[0-9a-z]{0,5}$|^[a-z][0-9]{2,}$/;
  var CODE_QUERY = /^[A-Za-z0-9]{2,}(?:[.-][A-Za-z0-9]*)*$/;
  var PREFIX_ALTS = 4;
  var PREFIX_WEIGHT = 0.7;

  function fold(text) {
    return String(text).toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  }

  function stem(w) {
    if (w.length > 4 && /ies$/.test(w)) return w.slice(0, -3) + 'y';
    if (w.length > 3 && /s$/.test(w) && !/(ss|us|is)$/.test(w)) return w.slice(0, -1);
    return w;
  }

  function words(text, stop) {
    var found = fold(text).match(WORD) || [];
    return found.filter(function (w) { return !stop[w] && (w.length > 1 || /^[0-9]$/.test(w)); });
  }

  function isCodeLike(w) { return /[0-9]/.test(w) || CODE_TOKEN.test(w); }

  function maxEdits(w) {
    if (isCodeLike(w)) return 0;
    return w.length >= 9 ? 2 : w.length >= 5 ? 1 : 0;
  }

  function codeQuery(q) {
    q = q.trim();
    if (q.length < 3 || !CODE_QUERY.test(q) || !/[0-9]/.test(q)) return null;
    return q.toUpperCase().replace(/\./g, '');
  }

  /* Optimal string alignment distance (a transposition is one edit); limit + 1 past the limit. */
  function editDistance(a, b, limit) {
    if (Math.abs(a.length - b.length) > limit) return limit + 1;
    var prev2 = [], prev = [], cur, i, j;
    for (j = 0; j <= b.length; j++) prev.push(j);
    for (i = 1; i <= a.length; i++) {
      cur = [i];
      var best = i;
      for (j = 1; j <= b.length; j++) {
        var cost = a[i - 1] === b[j - 1] ? 0 : 1;
        var v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2] + 1);
        cur.push(v);
        if (v < best) best = v;
      }
      if (best > limit) return limit + 1;
      prev2 = prev; prev = cur;
    }
    return prev[b.length] <= limit ? prev[b.length] : limit + 1;
  }

  function typoDistance(word, term, limit) {
    return Math.min(editDistance(word, term, limit), editDistance(word, term + 's', limit));
  }

  function normCode(code) { return String(code).trim().toUpperCase().replace(/\./g, ''); }

  /* understand() in generator/search/understand.py: the words to score, and the axis. */
  function understand(raw, rules) {
    var noise = {}, enc = {}, drop = raw.map(function () { return false; }), seventh = '', i;
    rules.noise.forEach(function (w) { noise[w] = true; });
    rules.encounter.forEach(function (w) { enc[w] = true; });
    for (i = 0; i < raw.length; i++) {
      var w = raw[i];
      if (noise[w]) {
        drop[i] = true;
        if (w === rules.noiseBeforeNumber && i + 1 < raw.length && /^[0-9]+$/.test(raw[i + 1])) drop[i + 1] = true;
      } else if (Object.prototype.hasOwnProperty.call(rules.seventh, w)) {
        drop[i] = true;
        seventh = seventh || rules.seventh[w];
      }
    }
    if (seventh) {
      for (i = 0; i < raw.length; i++) if (enc[raw[i]]) drop[i] = true;
      if (seventh === rules.seventh.initial && raw.indexOf(rules.seventhOpen[0]) >= 0) seventh = rules.seventhOpen[1];
    }
    var healing = raw.filter(function (w) { return Object.prototype.hasOwnProperty.call(rules.seventhHealing, w); });
    if (healing.length) seventh = rules.seventhHealing[healing[0]];
    var side = raw.filter(function (w) { return rules.sides.indexOf(w) >= 0; })[0] || '';
    var context = raw.some(function (w) { return rules.contextWords.indexOf(w) >= 0; });
    var kept = raw.filter(function (w, j) { return !drop[j]; });
    if (!kept.length) kept = raw;
    return { words: kept, axis: { seventh: seventh, side: side, context: context, terms: kept.map(stem) } };
  }

  function titleWords(title) {
    var ws = {};
    (fold(title).match(WORD) || []).forEach(function (w) { ws[stem(w)] = true; });
    return ws;
  }

  /* overlap(): how many of the query's words the title holds. */
  function overlap(title, terms) {
    var ws = titleWords(title);
    return terms.filter(function (t) { return ws[t]; }).length;
  }

  /* side_rank(): 0 the title states the wanted side, 1 no side, 2 another side only. */
  function sideRank(title, side, rules) {
    if (!side) return 1;
    var ws = titleWords(title);
    if (ws[side]) return 0;
    return rules.sides.some(function (s) { return ws[s]; }) ? 2 : 1;
  }

  /* reorder() in understand.py: candidates {id, code, title, system}; below(c) the first
   * rules.scan descendants of c in code order. */
  function reorder(head, below, axis, rules) {
    var out = [], seen = {};
    function add(c) { if (!seen[c.id]) { seen[c.id] = true; out.push(c); } }
    function side(c) { return sideRank(c.title, axis.side, rules); }
    head.forEach(function (c) {
      var n = normCode(c.code).length;
      if (axis.seventh && n >= rules.minParent && n < rules.seventhLen) {
        var kids = below(c).filter(function (k) {
          var kn = normCode(k.code);
          return kn.length === rules.seventhLen && kn.charAt(kn.length - 1) === axis.seventh;
        });
        kids.map(function (k, i) { return [side(k), -overlap(k.title, axis.terms), i, k]; })
          .sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || a[2] - b[2]; })
          .slice(0, rules.kids).forEach(function (x) { add(x[3]); });
      }
      add(c);
    });
    return out.map(function (c, i) {
      var norm = normCode(c.code), full = !!axis.seventh && norm.length === rules.seventhLen;
      var fits = full && norm.charAt(norm.length - 1) === axis.seventh;
      var context = !axis.context && c.system === rules.contextSystem && rules.contextChapters.indexOf(norm.charAt(0)) >= 0;
      return [full && !fits ? 1 : 0, context ? 1 : 0, side(c), fits ? 0 : 1, i, c];
    }).sort(function (a, b) {
      for (var k = 0; k < 5; k++) if (a[k] !== b[k]) return a[k] - b[k];
      return 0;
    }).map(function (x) { return x[5]; });
  }

  function fnv1a(s) {
    var h = 0x811c9dc5;
    for (var i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);  // terms are [a-z0-9]: one byte a character, as in Python
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h >>> 0;
  }

  /* ---- the engine: shards in, ranked results out; ``load(name)`` resolves to data or null ---- */

  /* Docids follow code order with gaps (generator/search/ids.py): they are kept as numbers
   * (below 2^53) and given dense slots, in the order first seen, for the scoring arrays. */
  function Engine(load) {
    this.load = load;
    this.cache = {};
    this.postings = {};
    this.slotOf = new Map();
    this.slotIds = [];  // slot -> docid
    this.flags = [];  // slot -> billable (1) + range page (2)
  }

  Engine.prototype.get = function (name) {
    if (!(name in this.cache)) this.cache[name] = this.load(name);
    return this.cache[name];
  };

  Engine.prototype.manifest = function () {
    var self = this;
    return this.get('manifest').then(function (m) {
      if (!m) throw new Error('search index not found');
      if (!self.stop) {
        self.stop = {};
        m.stop.forEach(function (w) { self.stop[w] = true; });
      }
      return m;
    });
  };

  /* Groups of alternatives: one group per query word or lay phrase (see plan() in generator/search/query.py);
   * groups.axis: the axis the query names. */
  Engine.prototype.plan = function (q, m) {
    var u = understand(words(q, this.stop), m.rules);
    var raw = u.words, toks = raw.map(stem), groups = [], i = 0;
    groups.axis = u.axis;
    while (i < toks.length) {
      var n = Math.min(m.weights.maxPhrase, toks.length - i), matched = false;
      for (; n > 0; n--) {
        var key = toks.slice(i, i + n).join(' ');
        if (Object.prototype.hasOwnProperty.call(m.synonyms, key)) {
          var alts = [{ terms: toks.slice(i, i + n), weight: 1 }];
          m.synonyms[key].forEach(function (a) { alts.push({ terms: a, weight: m.weights.synonym }); });
          groups.push({ alts: alts, word: n === 1 ? raw[i] : null });
          i += n; matched = true;
          break;
        }
      }
      if (!matched) { groups.push({ alts: [{ terms: [toks[i]], weight: 1 }], word: raw[i] }); i++; }
    }
    return groups;
  };

  Engine.prototype.termPostings = function (term, m) {
    var self = this;
    if (term in this.postings) return Promise.resolve(this.postings[term]);
    return this.get('t/' + (fnv1a(term) % m.termShards)).then(function (shard) {
      var flat = shard && Object.prototype.hasOwnProperty.call(shard, term) ? shard[term] : null;
      var p = null;
      if (flat) {  // docs: slots; imps: impact*4 + range*2 + billable
        p = { docs: new Int32Array(flat.length / 2), imps: new Int32Array(flat.length / 2) };
        for (var i = 0, d = 0; i < flat.length; i += 2) {
          d += flat[i];
          var slot = self.slotOf.get(d);
          if (slot === undefined) {
            slot = self.slotIds.length;
            self.slotOf.set(d, slot);
            self.slotIds.push(d);
            self.flags.push(flat[i + 1] & 3);
          }
          p.docs[i / 2] = slot;
          p.imps[i / 2] = flat[i + 1];
        }
      }
      self.postings[term] = p;
      return p;
    });
  };

  Engine.prototype.vocab = function (key) {
    return this.get('v/' + key).then(function (v) { return v || []; });
  };

  function allTerms(groups) {
    var seen = {};
    groups.forEach(function (g) { g.alts.forEach(function (a) { a.terms.forEach(function (t) { seen[t] = true; }); }); });
    return Object.keys(seen);
  }

  Engine.prototype.loadTerms = function (groups, m) {
    var self = this;
    return Promise.all(allTerms(groups).map(function (t) { return self.termPostings(t, m); }));
  };

  /* Typo alternatives for words missing from the index; prefix alternatives for the word being typed. */
  Engine.prototype.expand = function (groups, m, prefix) {
    var self = this, jobs = [];
    groups.forEach(function (g, gi) {
      var first = g.alts[0], word = g.word;
      if (!word || first.terms.length !== 1) return;
      var term = first.terms[0];
      var isLast = prefix && gi === groups.length - 1 && !isCodeLike(word);
      var typo = !self.postings[term] && maxEdits(word) > 0;
      if (!typo && !isLast) return;
      var keys = typo && word.length > 1 && word[1] !== word[0] ? [word[0], word[1]] : [word[0]];
      jobs.push(Promise.all(keys.map(function (k) { return self.vocab(k); })).then(function (lists) {
        var have = {};
        g.alts.forEach(function (a) { if (a.terms.length === 1) have[a.terms[0]] = true; });
        if (typo) {
          var limit = maxEdits(word), found = [];
          lists.forEach(function (v) {
            for (var i = 0; i < v.length; i += 2) {
              var d = typoDistance(word, v[i], limit);
              if (d <= limit) found.push([d, -v[i + 1], v[i]]);
            }
          });
          found.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : 1); });
          found.filter(function (f) { return f[0] === (found[0] || [])[0]; }).slice(0, m.weights.maxTypoAlts)
            .forEach(function (f) {
              if (!have[f[2]]) { have[f[2]] = true; g.alts.push({ terms: [f[2]], weight: m.weights.typo[f[0]] || 0.6 }); }
            });
        }
        if (isLast && word.length >= 2) {
          var pre = [], v0 = lists[0];
          for (var i = 0; i < v0.length; i += 2) {
            if (v0[i].length > word.length && v0[i].lastIndexOf(word, 0) === 0 && !have[v0[i]]) pre.push([v0[i + 1], v0[i]]);
          }
          pre.sort(function (a, b) { return b[0] - a[0]; });
          pre.slice(0, PREFIX_ALTS).forEach(function (p) { g.alts.push({ terms: [p[1]], weight: PREFIX_WEIGHT }); });
        }
      }));
    });
    return Promise.all(jobs);
  };

  function inSystem(m, doc, system) {
    if (!system) return true;
    for (var i = 0; i < m.systems.length; i++) {
      var s = m.systems[i];
      if (s.id === system) return doc >= s.first && doc <= s.last;
    }
    return false;
  }

  /* BM25F sums (impacts are precomputed per posting); documents matching more groups first.
   * Typed arrays indexed by slot: no hashing in the inner loops. Returns docids. */
  Engine.prototype.score = function (groups, m, opts) {
    var self = this, n = this.slotIds.length, ids = this.slotIds, flags = this.flags;
    var total = new Float64Array(n), matched = new Uint8Array(n);
    var seen = new Uint8Array(n), touched = [];
    groups.forEach(function (g) {
      var best = new Float64Array(n), full = new Uint8Array(n), hits = [];
      g.alts.forEach(function (a) {
        var many = a.terms.length > 1, sum = many ? new Float64Array(n) : null;
        var count = many ? new Uint8Array(n) : null, mine = [];
        a.terms.forEach(function (t) {
          var p = self.postings[t];
          if (!p) return;
          for (var i = 0; i < p.docs.length; i++) {
            var d = p.docs[i], v = p.imps[i];
            if (!many) {
              var s = (v >> 2) * a.weight;
              if (best[d] === 0) hits.push(d);
              if (s > best[d]) best[d] = s;
              full[d] = 1;
            } else {
              if (count[d] === 0) mine.push(d);
              sum[d] += v >> 2;
              count[d] += 1;
            }
          }
        });
        mine.forEach(function (d) {
          var s = sum[d] * a.weight;
          if (best[d] === 0) hits.push(d);
          if (s > best[d]) best[d] = s;
          if (count[d] === a.terms.length) full[d] = 1;
        });
      });
      hits.forEach(function (d) {
        if (!seen[d]) { seen[d] = 1; touched.push(d); }
        total[d] += best[d];
        matched[d] += full[d];
      });
    });
    var out = touched.filter(function (d) {
      return inSystem(m, ids[d], opts.system) && !(opts.billable && !(flags[d] & 1));
    });
    out.sort(function (a, b) { return matched[b] - matched[a] || total[b] - total[a] || ids[a] - ids[b]; });
    // ranges_last(): range pages follow the codes
    return out.filter(function (d) { return !(flags[d] & 2); }).concat(out.filter(function (d) { return flags[d] & 2; }))
      .map(function (d) { return ids[d]; });
  };

  /* The first rules.head results re-ranked by the query's axis words (see _by_axis() in engine.py). */
  Engine.prototype.byAxis = function (ids, axis, m, opts) {
    var self = this, rules = m.rules, head = ids.slice(0, rules.head);
    function cand(d, r) { return { id: d, code: r ? r.code : '', title: r ? r.title : '', system: r ? r.system : '' }; }
    return this.records(head, m).then(function (recs) {
      var cands = head.map(function (d, i) { return cand(d, recs[i]); });
      var scans = cands.map(function (c) {
        var n = normCode(c.code).length;
        if (!axis.seventh || n < rules.minParent || n >= rules.seventhLen) return Promise.resolve([]);
        return self.following(c.id, rules.scan, m).then(function (after) {
          var kids = [], parent = normCode(c.code);
          for (var i = 0; i < after.length && normCode(after[i][1].code).lastIndexOf(parent, 0) === 0; i++) {
            if (inSystem(m, after[i][0], opts.system) && !(opts.billable && !after[i][1].billable)) {
              kids.push(cand(after[i][0], after[i][1]));
            }
          }
          return kids;
        });
      });
      return Promise.all(scans).then(function (lists) {
        var kidsOf = {};
        cands.forEach(function (c, i) { kidsOf[c.id] = lists[i]; });
        var top = reorder(cands, function (c) { return kidsOf[c.id]; }, axis, rules).map(function (c) { return c.id; });
        var seen = new Set(top);
        return top.concat(ids.slice(rules.head).filter(function (d) { return !seen.has(d); }));
      });
    });
  };

  /* Exact code first, then its family in code order. */
  Engine.prototype.codes = function (norm, m, opts) {
    return this.get('c/' + norm.slice(0, m.prefixLen)).then(function (c) {
      var exact = [], family = [];
      if (!c) return exact;
      var key = norm.slice(0, m.prefixLen), d = 0;
      for (var i = 0; i < c.s.length; i++) {
        d += c.d[i];
        var full = key + c.s[i];
        if (full.lastIndexOf(norm, 0) !== 0) continue;
        if (!inSystem(m, d, opts.system) || (opts.billable && c.b[i] !== '1')) continue;
        (full === norm ? exact : family).push(d);
      }
      return exact.concat(family);
    });
  };

  /* The records file of a docid (Layout.bucket in generator/search/ids.py): its group's, or
   * one part of it, by the first bits of its value in the group (m.ids.depths). */
  var DEPTH_DIGITS = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  function recordsFile(id, m) {
    var L = m.ids, g = Math.floor(id / L.span), depth = Math.max(0, DEPTH_DIGITS.indexOf(L.depths.charAt(g)));
    var unit = Math.pow(2, L.bits - depth), part = Math.floor((id - g * L.span) / unit);
    return { name: 'r/' + g + (depth ? '-' + part : ''), base: g * L.span + part * unit };
  }

  /* A records file, its docids made once: {ids, at: docid -> index, r, n}. */
  Engine.prototype.recordsShard = function (id, m) {
    var f = recordsFile(id, m);
    return this.get(f.name).then(function (shard) {
      if (shard && !shard.at) {
        shard.ids = [];
        shard.at = new Map();
        for (var i = 0, d = f.base; i < shard.d.length; i++) {
          d += shard.d[i];
          shard.ids.push(d);
          shard.at.set(d, i);
        }
      }
      return shard;
    });
  };

  function display(id, r, m) {
    var sys = m.systems.filter(function (s) { return id >= s.first && id <= s.last; })[0];
    return r && sys && { code: r[0], title: r[1], billable: !!r[2], system: sys.id, systemName: sys.name,
      url: '/' + sys.prefix + '/' + r[0] + '/' };
  }

  Engine.prototype.records = function (ids, m) {
    var self = this;
    return Promise.all(ids.map(function (id) {
      return self.recordsShard(id, m).then(function (shard) {
        var i = shard ? shard.at.get(id) : undefined;
        return i === undefined ? null : display(id, shard.r[i], m);
      });
    }));
  };

  /* The (at most) count documents after id in code order, as [docid, record] pairs. */
  Engine.prototype.following = function (id, count, m) {
    var self = this, out = [];
    function from(start, skip) {
      return self.recordsShard(start, m).then(function (shard) {
        if (!shard) return out;
        var i = shard.at.get(start);
        if (i === undefined) return out;
        for (i += skip; i < shard.ids.length && out.length < count; i++) {
          out.push([shard.ids[i], display(shard.ids[i], shard.r[i], m)]);
        }
        return out.length < count && shard.n !== null && shard.n !== undefined ? from(shard.n, 0) : out;
      });
    }
    return from(id, 1);
  };

  /* search(q, {limit, offset, system, billable, prefix}) -> {results: [...], terms: [...], total}:
     results offset..limit of the ranked list (a page of results) */
  Engine.prototype.search = function (q, opts) {
    var self = this;
    opts = opts || {};
    var limit = opts.limit || 10;
    return this.manifest().then(function (m) {
      var norm = codeQuery(q);
      var codeIds = norm ? self.codes(norm, m, opts) : Promise.resolve([]);
      var groups = self.plan(q, m);
      return codeIds.then(function (ids) {
        if (!groups.length || ids.length >= limit) return [ids, []];
        return self.loadTerms(groups, m)
          .then(function () { return self.expand(groups, m, opts.prefix && !/\s$/.test(q)); })
          .then(function () { return self.loadTerms(groups, m); })
          .then(function () { return self.byAxis(self.score(groups, m, opts), groups.axis, m, opts); })
          .then(function (text) { return [ids, text]; });
      }).then(function (found) {
        var seen = new Set(found[0]), ids = found[0].slice();
        found[1].forEach(function (d) { if (!seen.has(d)) { seen.add(d); ids.push(d); } });
        var terms = allTerms(groups).filter(function (t) { return self.postings[t]; });
        return self.records(ids.slice(opts.offset || 0, limit), m).then(function (recs) {
          return { results: recs.filter(Boolean), total: ids.length, terms: terms };
        });
      });
    });
  };

  /* The title as HTML with the words that matched the query in <mark>. */
  function highlight(title, terms) {
    var set = {};
    terms.forEach(function (t) { set[t] = true; });
    return String(title).replace(/[^\s,;:()[\]/]+|[\s,;:()[\]/]+/g, function (part) {
      var esc = part.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
      var w = fold(part).match(WORD);
      if (w && w.length === 1 && set[stem(w[0])]) return '<mark>' + esc + '</mark>';
      return esc;
    });
  }

  var api = { Engine: Engine, fold: fold, stem: stem, words: words, codeQuery: codeQuery, understand: understand,
    editDistance: editDistance, fnv1a: fnv1a, highlight: highlight };

  /* ---- Node: shards from disk ---- */

  if (typeof module === 'object' && module.exports) {
    api.fileLoader = function (indexDir, onFile) {
      var fs = require('fs'), path = require('path');
      return function (name) {
        return new Promise(function (resolve) {
          fs.readFile(path.join(indexDir, name + '.js'), 'utf8', function (err, text) {
            if (err) return resolve(null);
            if (onFile) onFile(name, text);
            var out = null;
            new Function('window', text)({ __csIdx: { push: function (e) { out = e[1]; } } });
            resolve(out);
          });
        });
      };
    };
    module.exports = api;
  }

  /* ---- Browser: shards by <script>, the header popup and the search page ---- */

  if (typeof document === 'undefined') return;

  var me = document.currentScript;
  var base = me ? me.src.replace(/assets\/search(?:\.[0-9a-f]+)?\.js(?:[?#].*)?$/, '') : '';  // the name may carry a fingerprint
  var onFile = location.protocol === 'file:';
  var pending = {};
  global.__csIdx = { push: function (entry) {
    var done = pending[entry[0]];
    if (done) { delete pending[entry[0]]; done(entry[1]); }
  } };

  function scriptLoader(name) {
    return new Promise(function (resolve) {
      var s = document.createElement('script');
      pending[name] = resolve;
      s.src = base + 'search-index/' + name + '.js';
      s.onload = s.onerror = function () {
        if (pending[name]) { delete pending[name]; resolve(null); }
        s.remove();
      };
      document.head.appendChild(s);
    });
  }

  var engine = new Engine(scriptLoader);
  var PAGE = 50;  // results per page on the search page
  var NOT_BUILT = 'Search is not built for this copy of the site (it was built with --no-search).';
  api.engine = engine;
  global.codesiteSearch = api;

  function href(r) { return base + r.url.slice(1) + (onFile ? 'index.html' : ''); }
  function searchPage(q) {
    return base + 'search/' + (onFile ? 'index.html' : '') + (q ? '?q=' + encodeURIComponent(q) : '');
  }

  function el(tag, cls, html) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (html != null) e.innerHTML = html;
    return e;
  }

  function resultLink(r, terms) {
    var a = el('a', 'result');
    a.href = href(r);
    a.appendChild(el('strong', 'result-code', highlight(r.code, [])));
    a.appendChild(document.createTextNode(' '));
    a.appendChild(el('span', 'result-title', highlight(r.title || '', terms)));
    if (r.billable) a.appendChild(el('small', 'result-badge', ' · billable'));
    if (r.systemName) a.appendChild(el('small', 'result-system', null)).textContent = r.systemName;
    return a;
  }

  function setupPopup(input) {
    var form = input.form;
    var popup = form && form.querySelector('[data-search-popup]');
    if (!popup) return;
    var seq = 0, current = null, active = -1, items = [];
    var lastQuery = null;

    function close() { popup.hidden = true; active = -1; input.setAttribute('aria-expanded', 'false'); }
    function mark() {
      items.forEach(function (a, i) { a.setAttribute('aria-selected', i === active ? 'true' : 'false'); });
      if (items[active]) input.setAttribute('aria-activedescendant', items[active].id);
    }
    function run() {
      var q = input.value;
      if (q === lastQuery && current) return current;
      lastQuery = q;
      var mine = ++seq;
      if (!q.trim()) { close(); current = Promise.resolve({ results: [] }); return current; }
      current = engine.search(q, { limit: 8, prefix: true }).then(function (res) {
        if (mine !== seq) return res;
        popup.innerHTML = '';
        items = [];
        res.results.forEach(function (r, i) {
          var a = resultLink(r, res.terms);
          a.id = 'cs-opt-' + i;
          a.setAttribute('role', 'option');
          popup.appendChild(a);
          items.push(a);
        });
        var more = el('a', 'search-more', res.results.length ? 'All results' : 'No codes match; search all');
        more.href = searchPage(q);
        popup.appendChild(more);
        active = -1;
        popup.hidden = false;
        input.setAttribute('aria-expanded', 'true');
        return res;
      }, function () {
        if (mine !== seq) return { results: [] };
        popup.innerHTML = '';
        items = [];
        popup.appendChild(el('p', 'search-off', null)).textContent = NOT_BUILT;
        popup.hidden = false;
        return { results: [] };
      });
      return current;
    }

    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-expanded', 'false');
    popup.setAttribute('role', 'listbox');
    input.addEventListener('input', run);
    input.addEventListener('focus', function () {
      engine.manifest().catch(function () { /* reported when a search runs */ });
      if (input.value.trim()) run();
    });
    input.addEventListener('keydown', function (ev) {
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        if (!items.length) return;
        ev.preventDefault();
        active = ev.key === 'ArrowDown' ? (active + 1) % items.length : (active <= 0 ? items.length : active) - 1;
        mark();
      } else if (ev.key === 'Escape') {
        close();
      } else if (ev.key === 'Enter') {  // Enter opens the highlighted or first result
        ev.preventDefault();
        if (items[active] && !popup.hidden) { location.href = items[active].href; return; }
        var q = input.value;
        run().then(function (res) {
          location.href = res.results.length ? href(res.results[0]) : searchPage(q);
        });
      }
    });
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      location.href = searchPage(input.value);  // the Search button: the results list
    });
    document.addEventListener('click', function (ev) { if (!form.contains(ev.target)) close(); });
  }

  function setupPage(form) {
    var results = document.querySelector('[data-search-results]');
    var status = document.querySelector('[data-search-status]');
    var input = form.querySelector('input[name=q]');
    var system = form.querySelector('select[name=system]');
    var billable = form.querySelector('input[name=billable]');
    var params = new URLSearchParams(location.search);
    input.value = params.get('q') || '';
    if (system) system.value = params.get('system') || '';
    if (billable) billable.checked = params.get('billable') === '1';
    var pager = document.querySelector('[data-search-pager]');
    var seq = 0, page = Math.max(1, parseInt(params.get('page'), 10) || 1);

    function run(push) {
      var q = input.value, mine = ++seq;
      var opts = { limit: PAGE * page, offset: PAGE * (page - 1), system: system && system.value,
                   billable: billable && billable.checked };
      if (push) {
        var p = new URLSearchParams();
        if (q) p.set('q', q);
        if (opts.system) p.set('system', opts.system);
        if (opts.billable) p.set('billable', '1');
        if (page > 1) p.set('page', String(page));
        try { history.replaceState(null, '', '?' + p.toString()); } catch (e) { /* file:// may refuse */ }
      }
      if (pager) pager.innerHTML = '';
      if (!q.trim()) { results.innerHTML = ''; status.textContent = ''; return; }
      status.textContent = 'Searching…';
      engine.search(q, opts).then(function (res) {
        if (mine !== seq) return;
        results.innerHTML = '';
        res.results.forEach(function (r) {
          var li = el('li');
          li.appendChild(resultLink(r, res.terms));
          results.appendChild(li);
        });
        api.resultsAt = performance.now();  // read by bench/search.py
        var n = res.total, first = opts.offset + 1, last = opts.offset + res.results.length;
        results.start = first;
        if (!n) status.textContent = 'No codes match “' + q + '”.';
        else if (!res.results.length) status.textContent = 'No more results for “' + q + '”.';
        else status.textContent = (n > res.results.length ? 'Results ' + first + '–' + last + ' of ' + n : n) +
          ' result' + (n === 1 ? '' : 's') + ' for “' + q + '”';
        if (pager && n > PAGE) {
          if (page > 1) pager.appendChild(pageButton('Previous ' + PAGE, page - 1));
          if (n > last) pager.appendChild(pageButton('Next ' + Math.min(PAGE, n - last), page + 1));
        }
      }, function () {
        results.innerHTML = '';
        status.textContent = NOT_BUILT;
      });
    }

    function pageButton(label, to) {
      var b = el('button', 'page-button', null);
      b.type = 'button';
      b.textContent = label;
      b.addEventListener('click', function () { page = to; run(true); results.scrollIntoView(); });
      return b;
    }

    function fresh() { page = 1; run(true); }
    form.addEventListener('submit', function (ev) { ev.preventDefault(); fresh(); });
    input.addEventListener('input', fresh);
    if (system) system.addEventListener('change', fresh);
    if (billable) billable.addEventListener('change', fresh);
    run(false);
  }

  function init() {
    var page = document.querySelector('[data-search-page]');
    if (page) engine.manifest().catch(function () { /* reported by the search itself */ });
    if (page) setupPage(page);
    Array.prototype.forEach.call(document.querySelectorAll('[data-search-input]'), setupPopup);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})(typeof window !== 'undefined' ? window : globalThis);

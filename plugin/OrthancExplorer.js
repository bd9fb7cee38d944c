// SPDX-License-Identifier: GPL-3.0-or-later
// SpineMet in Orthanc Explorer: status, findings and a re-analysis button on the series and study
// pages. Orthanc Explorer is jQuery Mobile: pages are re-shown, so each show rebuilds the panel.

(function () {
  'use strict';

  function escapeHtml(text) {
    return $('<div>').text(text === undefined || text === null ? '' : String(text)).html();
  }

  var REASON_WORDS = {
    'out-of-distribution': 'out of distribution', 'hu-calibration': 'HU calibration',
    'slice-thickness': 'slice thickness', 'pixel-spacing': 'pixel spacing', 'image-noise': 'image noise',
    'metal': 'metal', 'cut-by-series-edge': 'cut by series edge'
  };

  function reasonsInWords(reasons) {
    var words = [];
    (reasons || []).forEach(function (entry) {
      var word = REASON_WORDS[entry.reason] || entry.reason;
      if (words.indexOf(word) < 0) {
        words.push(word);
      }
    });
    return words.join(', ');
  }

  // A spinemet-result/1 document has no assessability: every vertebra in it was assessed.
  function isAssessable(vertebra) {
    return vertebra.assessable !== false;
  }

  var STATE_WORDS = {
    'lesion-suspected': 'lesion suspected', 'no-lesion-found': 'no lesion found',
    'not-assessable': 'not assessable'
  };

  function stateLine(result, state) {
    if (!state) {
      return '';
    }
    var line = STATE_WORDS[state] || state;
    if (result && result.vertebrae && state !== 'not-assessable') {
      var assessed = result.vertebrae.filter(isAssessable).length;
      if (state === 'no-lesion-found' || assessed < result.vertebrae.length) {
        line += ' in ' + assessed + ' of ' + result.vertebrae.length + ' vertebrae assessed';
      }
    }
    return line;
  }

  function findingsTable(result) {
    if (!result || !result.vertebrae) {
      return '';
    }
    var rows = result.vertebrae.map(function (vertebra) {
      var name = '<td>' + escapeHtml(vertebra.display_name || vertebra.level || vertebra.index) + '</td>';
      if (!isAssessable(vertebra)) {
        // No class for a vertebra the model cannot be trusted on: the reasons, with their details.
        var details = (vertebra.not_assessable_reasons || []).map(function (entry) {
          return entry.detail;
        }).filter(function (detail) { return detail; }).join('; ');
        return '<tr style="color:#777">' + name + '<td colspan="2" title="' + escapeHtml(details).replace(/"/g, '&quot;') +
          '"><i>not assessable (' + escapeHtml(reasonsInWords(vertebra.not_assessable_reasons)) + ')</i></td></tr>';
      }
      return '<tr>' + name + '<td>' + escapeHtml(vertebra.bone_quality && vertebra.bone_quality['class']) +
        '</td><td>' + escapeHtml(vertebra.posterolateral && vertebra.posterolateral['class']) + '</td></tr>';
    });
    return '<table style="width:100%;text-align:left"><tr><th>Vertebra</th><th>Bone quality</th>' +
      '<th>Posterolateral</th></tr>' + rows.join('') + '</table>';
  }

  function describe(status) {
    var html = '<p><b>SpineMet</b>: ' + escapeHtml(status.State);
    if (status.Stage) {
      html += ' (' + escapeHtml(status.Stage) + ', ' + Math.round(100 * (status.Progress || 0)) + '%)';
    }
    if (status.Reason && status.Reason.Message) {
      html += '<br>' + escapeHtml(status.Reason.Message);
    }
    if (status.StudyState) {
      html += '<br><b>' + escapeHtml(stateLine(status.Result, status.StudyState)) + '</b>';
    }
    if (status.Result && status.Result.model) {
      html += '<br><small>Model ' + escapeHtml(status.Result.model.name) + ' ' +
        escapeHtml(status.Result.model.version) + ', trained on ' + escapeHtml(status.Result.model.trained_on) +
        '. Research use only.</small>';
    }
    return html + '</p>' + findingsTable(status.Result);
  }

  function panel(id, page, anchor) {
    $('#' + id).remove();
    var box = $('<div>').attr('id', id).css({ margin: '1em 0', padding: '0.5em',
                                              border: '1px solid #ccc', 'border-radius': '6px' });
    box.insertAfter($(anchor, page));
    return box;
  }

  function reanalyseButton(seriesId, onDone) {
    return $('<a>').attr('href', '#').attr('data-role', 'button').attr('data-inline', 'true')
      .text('SpineMet: analyse again').button().click(function (event) {
        event.preventDefault();
        $.ajax({ url: '../spinemet/series/' + seriesId + '/analyse', type: 'POST', dataType: 'json',
                 success: onDone, error: function () { alert('SpineMet could not queue the series'); } });
      });
  }

  function showSeries(seriesId) {
    var box = panel('spinemet-series', '#series', '#series-info');
    $.ajax({
      url: '../spinemet/series/' + seriesId, dataType: 'json',
      success: function (status) {
        box.html(describe(status));
        box.append(reanalyseButton(seriesId, function () { showSeries(seriesId); }));
      },
      error: function (xhr) {
        box.text('SpineMet: ' + (xhr.status === 503 ? 'disabled, see /spinemet/health' : 'no status'));
      }
    });
  }

  function showStudy(studyId) {
    var box = panel('spinemet-study', '#study', '#study-info');
    $.ajax({
      url: '../spinemet/studies/' + studyId, dataType: 'json',
      success: function (study) {
        var html = '<p><b>SpineMet</b>: ' + (study.Analysed ?
          escapeHtml(STATE_WORDS[study.StudyState] || study.StudyState) : 'no result yet') + '</p>';
        box.html(html);
        study.Series.forEach(function (series) {
          var item = $('<div>').css('margin-top', '0.5em').html(describe(series));
          item.append(reanalyseButton(series.Series, function () { showStudy(studyId); }));
          box.append(item);
        });
      },
      error: function (xhr) {
        box.text('SpineMet: ' + (xhr.status === 503 ? 'disabled, see /spinemet/health' : 'no status'));
      }
    });
  }

  $('#series').live('pagebeforeshow', function () {
    showSeries($.mobile.pageData.uuid);
  });

  $('#study').live('pagebeforeshow', function () {
    showStudy($.mobile.pageData.uuid);
  });
})();

# GENERATED from reference_solution/coursekit/language.py by `python -m reference_solution release`; edit the original
"""The language of the support code's own texts: figure titles, legends, widget labels, hints.

English here, where every text is its own template. A language edition's copy of the support
package (``release/<assignment>_<lang>/coursekit/language.py``) is generated with ``LANGUAGE`` and
``TEXTS`` filled from ``translations/<lang>/coursekit.po`` (``reference_solution/course/release.py``),
so that the notebooks call the same code in every edition and see their own language.

Course support code: the standard library only.
"""

from __future__ import annotations

LANGUAGE = 'ru'
TEXTS: dict[str, str] = {  # English template -> translated template
    'Interactive view unavailable: {why}. Showing a static frame; the controls still work from code (e.g. view.day.value = 10; view.show()).': 'Интерактивный вид недоступен: {why}. Показан статичный кадр; элементы управления по-прежнему работают из кода (например, view.day.value = 10; view.show()).',
    'Langevin step {step} of {steps}, eta = {eta:.4f}': 'Шаг Ланжевена {step} из {steps}, eta = {eta:.4f}',
    'data': 'данные',
    'particles': 'частицы',
    'step': 'шаг',
    'step {step} of {steps} (eta {eta:.4f}): mean distance to the nearest data point {distance:.3f} (start {start:.3f})': 'шаг {step} из {steps} (eta {eta:.4f}): среднее расстояние до ближайшей точки данных {distance:.3f} (в начале {start:.3f})',
    'steps': 'шагов',
    "{name}: if you read this text instead of sliders, the notebook has no ipywidgets front end; install it in the Jupyter server's environment (pip install 'ipywidgets>=8' jupyterlab_widgets) and reload, or call .show_static().": "{name}: если вы читаете этот текст вместо ползунков, у ноутбука нет фронтенда ipywidgets; установите его в окружение сервера Jupyter (pip install 'ipywidgets>=8' jupyterlab_widgets) и перезагрузите страницу или вызовите .show_static().",
}


def tr(text: str, **fields) -> str:
    """``text``, an English ``str.format`` template, in the edition's language, filled with ``fields``."""
    template = TEXTS.get(text, text)
    return template.format(**fields) if fields else template

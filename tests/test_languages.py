"""Duplicates and story clusters beyond English: real news in eight languages, through the engine.

Each language has one event reported by two outlets in their own words (the
same people, places and numbers, as when two agencies cover it), a second,
unrelated event, and the edits a syndicated copy gets (a dateline added, a
sentence dropped, a word changed). Nothing here tells the engine the
language: the same tokenisation and term weighting must serve all of them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from newsdedup.engine import Engine
from newsdedup.models import ArticleInput, Verdict


@dataclass(frozen=True)
class Report:
    """A news article: a headline and its paragraphs (one sentence each, as wire copy often is)."""

    title: str
    paragraphs: tuple[str, ...]

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)

    def article(self, article_id: str) -> ArticleInput:
        return ArticleInput(id=article_id, title=self.title, body=self.body)


@dataclass(frozen=True)
class Coverage:
    """One language's test news: one event from two outlets, another event, and a syndicator's edits."""

    language: str
    first_report: Report
    second_report: Report
    other_event: Report
    dateline: str
    changed_word: tuple[str, str]  # (word in the first report, what the copy says instead)

    def edited_copy(self, article_id: str) -> ArticleInput:
        """The first report as a syndicator reprints it: a dateline added, a sentence dropped, a word changed."""
        old, new = self.changed_word
        paragraphs = list(self.first_report.paragraphs)
        del paragraphs[-2]
        body = self.dateline + "\n".join(paragraphs)
        assert old in body, f"{self.language}: the word to change, {old!r}, is not in the copy"
        return ArticleInput(id=article_id, title=self.first_report.title, body=body.replace(old, new, 1))


GERMAN = Coverage(
    language="german",
    first_report=Report(
        "Regionalzug bei Göttingen entgleist – 14 Verletzte",
        (
            "Bei Göttingen ist am Dienstagmorgen ein Regionalexpress der Deutschen Bahn entgleist.",
            "Nach Angaben der Polizei wurden 14 Menschen verletzt, drei von ihnen schwer.",
            "In dem Zug saßen etwa 210 Fahrgäste, die Feuerwehr war mit einem Großaufgebot im Einsatz.",
            "Der Zug war gegen 7.40 Uhr auf dem Weg von Göttingen nach Kassel, als er kurz hinter Friedland"
            " aus den Gleisen sprang.",
            "Ein Polizeisprecher sagte, ein auf die Strecke gestürzter Baum sei vermutlich die Ursache.",
            "Die Strecke zwischen Göttingen und Kassel bleibt bis mindestens Donnerstag gesperrt, die Bahn hat"
            " einen Ersatzverkehr mit Bussen eingerichtet.",
        ),
    ),
    second_report=Report(
        "Zugunglück in Südniedersachsen: Baum auf den Gleisen bringt Regionalexpress zum Entgleisen",
        (
            "Ein umgestürzter Baum hat am Dienstag in Südniedersachsen offenbar ein schweres Zugunglück verursacht.",
            "Der Regionalexpress von Göttingen nach Kassel entgleiste gegen 7.40 Uhr nahe Friedland.",
            "14 Fahrgäste erlitten Verletzungen, drei mussten schwer verletzt in die Universitätsmedizin Göttingen"
            " gebracht werden.",
            "Rund 210 Menschen waren an Bord.",
            "Die Deutsche Bahn teilte mit, die Strecke nach Kassel werde voraussichtlich bis Donnerstag gesperrt"
            " bleiben; Reisende sollen auf Busse ausweichen.",
            "Die Bundespolizei ermittelt zur genauen Unfallursache.",
        ),
    ),
    other_event=Report(
        "Verdi ruft zum Warnstreik an den Flughäfen Hamburg und Düsseldorf auf",
        (
            "Die Gewerkschaft Verdi hat das Bodenpersonal an den Flughäfen Hamburg und Düsseldorf für Freitag"
            " zu einem ganztägigen Warnstreik aufgerufen.",
            "Betroffen sind Beschäftigte der Sicherheitskontrollen und der Flugzeugabfertigung.",
            "Die Flughafengesellschaften rechnen mit zahlreichen Ausfällen und raten Passagieren, sich vorab bei"
            " ihrer Fluggesellschaft zu informieren.",
            "Verdi fordert für die rund 25.000 Beschäftigten der Luftsicherheit 2,80 Euro mehr pro Stunde.",
            "Die Arbeitgeber bezeichneten die Forderung als überzogen.",
            "Die nächste Verhandlungsrunde ist für Ende des Monats in Berlin angesetzt.",
        ),
    ),
    dateline="Göttingen (dpa) – ",
    changed_word=("Fahrgäste", "Passagiere"),
)

SPANISH = Coverage(
    language="spanish",
    first_report=Report(
        "Un incendio forestal en Tenerife obliga a desalojar a 1.200 vecinos de Arafo y Candelaria",
        (
            "Un incendio forestal declarado en la madrugada del sábado en el monte de Arafo, en Tenerife, ha"
            " obligado a desalojar a unos 1.200 vecinos de Arafo y Candelaria.",
            "Según el Cabildo de Tenerife, las llamas han calcinado ya unas 2.500 hectáreas de pinar.",
            "En las tareas de extinción trabajan cerca de 300 efectivos y 14 medios aéreos.",
            "El consejero de Emergencias del Cabildo explicó que el fuerte viento y las altas temperaturas"
            " dificultan el control del fuego.",
            "La carretera TF-24 permanece cortada y no se descarta que el incendio haya sido provocado.",
        ),
    ),
    second_report=Report(
        "El fuego de Tenerife arrasa 2.500 hectáreas y fuerza la evacuación de Arafo y Candelaria",
        (
            "Unas 1.200 personas han tenido que abandonar sus casas en los municipios tinerfeños de Arafo y"
            " Candelaria por el incendio que se originó el sábado de madrugada en el monte de Arafo.",
            "El Cabildo de Tenerife cifra en 2.500 las hectáreas quemadas, la mayoría de pinar canario.",
            "Un dispositivo de 300 efectivos, apoyados por 14 medios aéreos, lucha contra las llamas.",
            "Las rachas de viento y el calor complican las labores de extinción, según el Cabildo.",
            "La TF-24, que une La Laguna con el Teide, sigue cerrada al tráfico, y la Guardia Civil investiga si"
            " el fuego fue intencionado.",
        ),
    ),
    other_event=Report(
        "La línea 11 de Metro de Madrid llega a Conde de Casal",
        (
            "La Comunidad de Madrid ha abierto este lunes al público la ampliación de la línea 11 de Metro, que"
            " une ahora Plaza Elíptica con Conde de Casal.",
            "El nuevo tramo, de 5,8 kilómetros, cuenta con cuatro estaciones y ha costado 460 millones de euros.",
            "Según el Consorcio Regional de Transportes, la prolongación dará servicio a unos 80.000 viajeros diarios.",
            "Los trenes pasarán cada cinco minutos en hora punta.",
            "Las obras comenzaron en 2022 y acumularon varios meses de retraso por problemas en la excavación del"
            " túnel.",
        ),
    ),
    dateline="SANTA CRUZ DE TENERIFE, 12 Ago. (EUROPA PRESS) - ",
    changed_word=("calcinado", "quemado"),
)

FRENCH = Coverage(
    language="french",
    first_report=Report(
        "Drôme : un camion-citerne se renverse sur l’A7, l’autoroute coupée près de Valence",
        (
            "Un camion-citerne transportant 30 000 litres de gazole s’est renversé jeudi vers 6 h 30 sur"
            " l’autoroute A7, à hauteur de Valence, dans la Drôme.",
            "Le chauffeur et un automobiliste ont été légèrement blessés, selon la préfecture de la Drôme.",
            "L’autoroute a été fermée dans les deux sens entre Valence-Nord et Valence-Sud, provoquant un bouchon"
            " de 18 kilomètres.",
            "Les pompiers ont déployé un barrage flottant pour éviter que le carburant ne rejoigne le Rhône.",
            "Vinci Autoroutes conseille aux automobilistes d’emprunter l’A49 et la RN7.",
        ),
    ),
    second_report=Report(
        "Accident sur l’A7 : 30 000 litres de gazole menacent le Rhône",
        (
            "La circulation était totalement interrompue jeudi matin sur l’A7 au niveau de Valence après"
            " l’accident d’un poids lourd-citerne chargé de 30 000 litres de gazole.",
            "Le véhicule s’est couché sur la chaussée peu avant 6 h 30.",
            "Deux personnes, le conducteur et un automobiliste, souffrent de blessures légères, a indiqué la"
            " préfecture de la Drôme.",
            "Les sapeurs-pompiers tentent de contenir la fuite de carburant, qui risque d’atteindre le Rhône.",
            "Vinci Autoroutes recommande de contourner le secteur par l’A49 ou la RN7 ; le bouchon atteignait"
            " 18 kilomètres en milieu de matinée.",
        ),
    ),
    other_event=Report(
        "Paris : la tour Eiffel fermée au public en raison d’une grève",
        (
            "La tour Eiffel est restée fermée aux visiteurs mardi en raison d’une grève du personnel, a annoncé"
            " la Société d’exploitation de la tour Eiffel (Sete).",
            "Les syndicats CGT et FO dénoncent le modèle économique du monument, jugé trop optimiste sur la"
            " fréquentation.",
            "Environ 20 000 visiteurs étaient attendus dans la journée.",
            "Les billets achetés en ligne seront remboursés, précise la Sete.",
            "La mairie de Paris, actionnaire majoritaire, a proposé une nouvelle réunion avec les représentants"
            " des salariés jeudi.",
        ),
    ),
    dateline="VALENCE (AFP) - ",
    changed_word=("chauffeur", "conducteur"),
)

POLISH = Coverage(
    language="polish",
    first_report=Report(
        "Wypadek autobusu na S8 pod Oleśnicą. Dziewięć osób rannych",
        (
            "W niedzielę rano na drodze ekspresowej S8 w pobliżu Oleśnicy autobus z 23 pasażerami zderzył się"
            " z ciężarówką.",
            "Do szpitali we Wrocławiu trafiło 9 osób, w tym kierowca autobusu.",
            "Jak poinformowała policja, do wypadku doszło około godziny 5.50 na jezdni w kierunku Warszawy.",
            "Ciężarówka prawdopodobnie zjechała na sąsiedni pas i uderzyła w bok autobusu.",
            "Droga w kierunku Warszawy była zablokowana przez kilka godzin, a objazd wyznaczono przez Oleśnicę.",
            "Okoliczności zdarzenia wyjaśnia prokuratura.",
        ),
    ),
    second_report=Report(
        "Zderzenie autobusu z ciężarówką na trasie S8. Utrudnienia koło Oleśnicy",
        (
            "Dziewięć osób zostało rannych w niedzielnym wypadku na trasie S8 koło Oleśnicy na Dolnym Śląsku.",
            "Autobus, którym podróżowały 23 osoby, zderzył się z ciężarówką tuż przed godziną 6.",
            "Według policji kierowca ciężarówki zmienił pas ruchu i wjechał w autobus jadący w stronę Warszawy.",
            "Ranni, wśród nich kierowca autobusu, zostali przewiezieni do szpitali we Wrocławiu.",
            "Generalna Dyrekcja Dróg Krajowych i Autostrad informowała o kilkugodzinnym zablokowaniu jezdni"
            " i objeździe przez Oleśnicę.",
            "Sprawą zajmuje się prokuratura.",
        ),
    ),
    other_event=Report(
        "RPP nie zmieniła stóp procentowych",
        (
            "Rada Polityki Pieniężnej na środowym posiedzeniu pozostawiła stopy procentowe bez zmian.",
            "Stopa referencyjna Narodowego Banku Polskiego wynosi nadal 5,75 procent.",
            "Decyzja była zgodna z oczekiwaniami większości ekonomistów.",
            "Prezes NBP ma przedstawić uzasadnienie decyzji na czwartkowej konferencji prasowej.",
            "Według Głównego Urzędu Statystycznego inflacja w ubiegłym miesiącu wyniosła 4,9 procent rok do roku.",
        ),
    ),
    dateline="Wrocław (PAP) - ",
    changed_word=("zderzył się", "zderzył się czołowo"),
)

TURKISH = Coverage(
    language="turkish",
    first_report=Report(
        "İstanbul Boğazı'nda arızalanan tanker nedeniyle gemi trafiği durduruldu",
        (
            "Malta bayraklı 180 metre uzunluğundaki bir tanker, salı günü İstanbul Boğazı'nda makine arızası yaptı.",
            "Kıyı Emniyeti Genel Müdürlüğü, tankerin Rumelihisarı açıklarında sürüklendiğini ve olay yerine"
            " 4 römorkör sevk edildiğini açıkladı.",
            "Güvenlik önlemi olarak Boğaz'da çift yönlü gemi trafiği saat 14.30'dan itibaren askıya alındı.",
            "Ulaştırma ve Altyapı Bakanlığı, tankerin Ahırkapı demir sahasına çekileceğini bildirdi.",
            "Olayda yaralanan olmadığı, denize herhangi bir sızıntı yaşanmadığı belirtildi.",
        ),
    ),
    # Turkish headlines are often all capitals: I and İ must fold as the ı and i of running text do.
    second_report=Report(
        "İSTANBUL BOĞAZI'NDA TANKER ARIZASI: GEMİ GEÇİŞLERİ DURDURULDU",
        (
            "İstanbul Boğazı'nda salı öğleden sonra makine arızası yapan Malta bayraklı tanker, akıntıya"
            " kapılarak Rumelihisarı'na doğru sürüklendi.",
            "180 metrelik gemiye Kıyı Emniyeti Genel Müdürlüğü'ne ait 4 römorkör ile müdahale edildi.",
            "Boğaz, çift yönlü olarak gemi geçişlerine kapatıldı; kısıtlama saat 14.30'da başladı.",
            "Ulaştırma ve Altyapı Bakanlığı'ndan yapılan açıklamada, tankerin güvenli şekilde Ahırkapı demir"
            " sahasına götürüleceği ifade edildi.",
            "Yaralı ya da çevre kirliliği bulunmadığı bildirildi.",
        ),
    ),
    other_event=Report(
        "Ankara'da kar yağışı nedeniyle okullar tatil edildi",
        (
            "Ankara Valiliği, yoğun kar yağışı nedeniyle kentteki tüm okullarda eğitime perşembe günü bir gün"
            " ara verildiğini duyurdu.",
            "Meteoroloji Genel Müdürlüğü, kentte kar kalınlığının yer yer 30 santimetreye ulaştığını açıkladı.",
            "Ankara Büyükşehir Belediyesi, 1.200 personel ve 600 araçla yolları açık tutmaya çalıştığını bildirdi.",
            "Esenboğa Havalimanı'nda bazı seferler iptal edildi.",
            "Valilik, vatandaşlardan zorunlu olmadıkça özel araçlarıyla trafiğe çıkmamalarını istedi.",
        ),
    ),
    dateline="İSTANBUL (AA) - ",
    changed_word=("makine arızası", "motor arızası"),
)

ARABIC = Coverage(
    language="arabic",
    first_report=Report(
        "زلزال بقوة 5.2 درجات يضرب إقليم الحسيمة شمال المغرب",
        (
            "ضرب زلزال بقوة 5.2 درجات على مقياس ريختر إقليم الحسيمة في شمال المغرب فجر الأربعاء.",
            "وقال المعهد الوطني للجيوفيزياء إن الهزة وقعت عند الساعة الثانية وخمس عشرة دقيقة على عمق 12 كيلومترا.",
            "وشعر بالزلزال سكان مدن طنجة وتطوان والناظور.",
            "وأفادت السلطات المحلية بإصابة ثلاثة أشخاص بجروح طفيفة، وبتضرر عدد من المنازل القديمة في الحسيمة.",
            "ولم تسجل أي وفيات حتى الآن.",
        ),
    ),
    second_report=Report(
        "هزة أرضية بقوة 5.2 درجات تضرب الحسيمة دون خسائر في الأرواح",
        (
            "أعلن المعهد الوطني للجيوفيزياء في المغرب أن هزة أرضية بلغت قوتها 5.2 درجات ضربت إقليم الحسيمة فجر"
            " الأربعاء.",
            "وحدد المعهد مركز الهزة على عمق 12 كيلومترا قرب ساحل البحر الأبيض المتوسط.",
            "وامتد الشعور بالهزة إلى طنجة وتطوان والناظور، حيث خرج عدد من السكان إلى الشوارع.",
            "وذكرت السلطات أن ثلاثة أشخاص أصيبوا بجروح طفيفة، وأن بعض المنازل القديمة تعرضت لتشققات.",
            "ولم يتم الإبلاغ عن أي وفيات.",
        ),
    ),
    other_event=Report(
        "البنك المركزي المصري يثبت أسعار الفائدة للمرة الثالثة على التوالي",
        (
            "قرر البنك المركزي المصري، الخميس، الإبقاء على أسعار الفائدة دون تغيير للمرة الثالثة على التوالي.",
            "وأبقت لجنة السياسة النقدية على سعر عائد الإيداع لليلة واحدة عند 27.25 في المئة وسعر الإقراض عند"
            " 28.25 في المئة.",
            "وقال البنك في بيان إن القرار يهدف إلى احتواء الضغوط التضخمية.",
            "وتراجع معدل التضخم السنوي في المدن المصرية إلى 24 في المئة الشهر الماضي.",
            "ويتوقع محللون أن يبدأ البنك خفض الفائدة قبل نهاية العام.",
        ),
    ),
    dateline="الرباط (رويترز) - ",
    changed_word=("فجر الأربعاء", "صباح الأربعاء"),
)

# The first Arabic report as a vowelled edition prints it: the same letters, with full tashkeel.
ARABIC_WITH_TASHKEEL = Report(
    "زِلْزَالٌ بِقُوَّةِ 5.2 دَرَجَاتٍ يَضْرِبُ إِقْلِيمَ الحُسَيْمَةِ شَمَالَ المَغْرِبِ",
    (
        "ضَرَبَ زِلْزَالٌ بِقُوَّةِ 5.2 دَرَجَاتٍ عَلَى مِقْيَاسِ رِيخْتَر إِقْلِيمَ الحُسَيْمَةِ فِي شَمَالِ المَغْرِبِ فَجْرَ الأَرْبِعَاءِ.",
        "وَقَالَ المَعْهَدُ الوَطَنِيُّ لِلْجِيُوفِيزْيَاءِ إِنَّ الهَزَّةَ وَقَعَتْ عِنْدَ السَّاعَةِ الثَّانِيَةِ وَخَمْسَ عَشْرَةَ دَقِيقَةً عَلَى عُمْقِ 12 كِيلُومِتْرًا.",
        "وَشَعَرَ بِالزِّلْزَالِ سُكَّانُ مُدُنِ طَنْجَةَ وَتِطْوَانَ وَالنَّاظُورِ.",
        "وَأَفَادَتِ السُّلُطَاتُ المَحَلِّيَّةُ بِإِصَابَةِ ثَلَاثَةِ أَشْخَاصٍ بِجُرُوحٍ طَفِيفَةٍ، وَبِتَضَرُّرِ عَدَدٍ مِنَ المَنَازِلِ القَدِيمَةِ فِي الحُسَيْمَةِ.",
        "وَلَمْ تُسَجَّلْ أَيُّ وَفَيَاتٍ حَتَّى الآنَ.",
    ),
)

RUSSIAN = Coverage(
    language="russian",
    first_report=Report(
        "Ураган в Казани: 12 пострадавших, тысячи жителей без света",
        (
            "Во вторник вечером на Казань обрушился ураганный ветер, порывы которого достигали 25 метров в секунду.",
            "По данным Главного управления МЧС по Татарстану, пострадали 12 человек, четверо из них госпитализированы.",
            "В городе повалено около 300 деревьев, повреждены крыши нескольких жилых домов и автомобили.",
            "Без электричества остались около 40 тысяч жителей.",
            "Энергетики рассчитывают восстановить подачу электроэнергии к утру среды.",
            "Мэрия Казани открыла пункты временного размещения для тех, чьи дома пострадали.",
        ),
    ),
    second_report=Report(
        "Шквалистый ветер в Татарстане оставил без света 40 тысяч казанцев",
        (
            "Непогода, пришедшая в Казань во вторник вечером, нанесла серьёзный ущерб городу.",
            "Как сообщили в МЧС по Татарстану, ветер усиливался до 25 метров в секунду.",
            "Медицинская помощь понадобилась 12 жителям Казани, четверых госпитализировали.",
            "Коммунальные службы насчитали около 300 упавших деревьев, сорванные крыши и повреждённые автомобили.",
            "Без электроснабжения оказались около 40 тысяч человек, подачу тока обещают вернуть к утру.",
            "Мэрия Казани развернула пункты временного размещения.",
        ),
    ),
    other_event=Report(
        "В Петербурге открылась станция метро «Горный институт»",
        (
            "В Санкт-Петербурге в субботу открылась новая станция метро «Горный институт» на"
            " Невско-Василеостровской линии.",
            "Станция расположена на Васильевском острове, её строительство заняло больше десяти лет.",
            "Губернатор Петербурга пообещал, что до конца года откроются ещё две станции.",
            "По оценке Петербургского метрополитена, новой станцией будут ежедневно пользоваться до 30 тысяч"
            " пассажиров.",
            "Стоимость проекта составила около 20 миллиардов рублей.",
        ),
    ),
    dateline="КАЗАНЬ, 18 июля — РИА Новости. ",
    changed_word=("повалено", "сломано"),
)

CHINESE = Coverage(
    language="chinese",
    first_report=Report(
        "台风“海葵”在福建漳州登陆 12万人紧急转移",
        (
            "今年第11号台风“海葵”于5日下午3时许在福建省漳州市东山县沿海登陆，登陆时中心附近最大风力达14级。",
            "福建省气象台表示，受其影响，闽南地区将出现大暴雨到特大暴雨。",
            "截至5日晚，福建省共紧急转移群众12万人。",
            "厦门、漳州两地全面停课，厦门高崎国际机场取消航班300余架次。",
            "当地防汛部门已启动防台风一级应急响应。",
        ),
    ),
    second_report=Report(
        "“海葵”登陆漳州东山 福建启动防台风一级应急响应",
        (
            "记者从福建省防汛抗旱指挥部获悉，台风“海葵”5日下午在漳州东山县沿海登陆，中心风力14级。",
            "为应对台风，福建已启动防台风一级应急响应，全省累计转移人员12万人。",
            "厦门和漳州中小学、幼儿园当天停课，厦门高崎国际机场300余个航班被取消。",
            "气象部门预计，未来两天闽南沿海将有大暴雨，局地特大暴雨，请市民减少外出。",
        ),
    ),
    other_event=Report(
        "国家统计局：一季度GDP同比增长5.3%",
        (
            "国家统计局16日发布数据，初步核算，一季度国内生产总值（GDP）同比增长5.3%，比上年四季度加快0.1个百分点。",
            "分产业看，第一产业增加值同比增长3.3%，第二产业增长6.0%，第三产业增长5.0%。",
            "3月份，全国居民消费价格指数（CPI）同比上涨0.1%。",
            "国家统计局新闻发言人表示，一季度国民经济实现良好开局，但外部环境的复杂性仍在上升。",
        ),
    ),
    dateline="新华社福州9月5日电 ",
    changed_word=("紧急转移群众", "紧急转移人员"),
)

COVERAGE = [GERMAN, SPANISH, FRENCH, POLISH, TURKISH, ARABIC, RUSSIAN, CHINESE]
LANGUAGES = [coverage.language for coverage in COVERAGE]


def story_similarity(engine: Engine, first: ArticleInput, second: ArticleInput) -> float:
    """The story tier's cosine of the two articles, for failure messages."""
    return engine.compare(first, second).story_similarity


@pytest.mark.parametrize("coverage", COVERAGE, ids=LANGUAGES)
def test_two_outlets_reporting_one_event_share_a_story_cluster(engine: Engine, coverage: Coverage) -> None:
    """The same event in each outlet's own words is no duplicate, but joins the first report's story cluster."""
    first = coverage.first_report.article("first-outlet")
    second = coverage.second_report.article("second-outlet")
    first_result = engine.ingest(first)
    engine.ingest(coverage.other_event.article("other-event"))
    second_result = engine.ingest(second)
    assert second_result.verdict == Verdict.UNIQUE
    assert second_result.cluster_id == first_result.cluster_id, (
        f"story cosine {story_similarity(engine, first, second):.3f}"
    )


@pytest.mark.parametrize("coverage", COVERAGE, ids=LANGUAGES)
def test_a_different_event_starts_its_own_story(engine: Engine, coverage: Coverage) -> None:
    """Another event in the same language stays out of a story cluster its language alone has in common with."""
    first = engine.ingest(coverage.first_report.article("first-outlet"))
    engine.ingest(coverage.second_report.article("second-outlet"))
    other = engine.ingest(coverage.other_event.article("other-event"))
    assert other.verdict == Verdict.UNIQUE
    assert other.cluster_id != first.cluster_id
    assert other.cluster_size == 1


@pytest.mark.parametrize("coverage", COVERAGE, ids=LANGUAGES)
def test_an_edited_copy_is_a_duplicate_of_the_original(engine: Engine, coverage: Coverage) -> None:
    """A reprint with a dateline, a dropped sentence and a changed word is a duplicate; another event is unique."""
    original = engine.ingest(coverage.first_report.article("original"))
    copy = engine.ingest(coverage.edited_copy("reprint"))
    assert copy.verdict in (Verdict.NEAR_DUPLICATE, Verdict.EXACT_DUPLICATE)
    assert copy.duplicate_of == "original"
    assert copy.cluster_id == original.cluster_id
    unrelated = engine.ingest(coverage.other_event.article("other-event"))
    assert unrelated.verdict == Verdict.UNIQUE
    assert unrelated.duplicate_of == ""


def turkish_upper(raw: str) -> str:
    """Capitals as Turkish writes them: i becomes İ and ı becomes I (Python's str.upper makes I of both)."""
    return raw.replace("i", "İ").upper()


def full_width(raw: str) -> str:
    """ASCII letters and digits as the full-width forms Chinese web pages often use."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in raw)


def with_tatweel(raw: str) -> str:
    """Headline-style elongation strokes inside some words (after letters that join to the next)."""
    return raw.replace("زلزال", "زلـــزال").replace("الحسيمة", "الحسـيمة").replace("المغرب", "المغـرب")


def transformed(report: Report, spell: Callable[[str], str]) -> Report:
    return Report(spell(report.title), tuple(spell(paragraph) for paragraph in report.paragraphs))


@pytest.mark.parametrize(
    ("original", "variant"),
    [
        (ARABIC.first_report, ARABIC_WITH_TASHKEEL),
        (ARABIC.first_report, transformed(ARABIC.first_report, with_tatweel)),
        (GERMAN.first_report, transformed(GERMAN.first_report, lambda raw: raw.replace("ß", "ss"))),
        (GERMAN.first_report, transformed(GERMAN.first_report, str.upper)),
        (CHINESE.other_event, transformed(CHINESE.other_event, full_width)),
        (TURKISH.first_report, transformed(TURKISH.first_report, turkish_upper)),
        (SPANISH.first_report, transformed(SPANISH.first_report, lambda raw: unicodedata.normalize("NFD", raw))),
    ],
    ids=[
        "arabic-tashkeel",
        "arabic-tatweel",
        "german-ss-for-sharp-s",
        "german-capitals",
        "chinese-full-width",
        "turkish-capitals",
        "spanish-decomposed-accents",
    ],
)
def test_spelling_variants_are_exact_duplicates(engine: Engine, original: Report, variant: Report) -> None:
    """Writing the same text with vowel marks, elongation, ss, capitals or full-width forms changes nothing."""
    assert variant.body != original.body
    engine.ingest(original.article("original"))
    result = engine.ingest(variant.article("variant"))
    assert result.verdict == Verdict.EXACT_DUPLICATE
    assert result.duplicate_of == "original"

/* SPDX-License-Identifier: MIT */
/* dataset-synthetic.c -- deterministic, counter-based generator of realistic YouTube comment rows. */

#include <errno.h>
#include <string.h>

#include "dataset.h"
#include "util.h"

#define SYNTHETIC_DEFAULT_COMMENTS 500000

/* Room for the longest comment the templates below can produce (about 1.5 KiB), with margin. */
#define TEXT_MAX 4096

/* ---- randomness ----------------------------------------------------------
 *
 * Row i of a table draws from its own stream, seeded by hashing (seed,
 * table, i), so any range of rows can be produced without producing the
 * ones before it.  mix64 is splitmix64's finalizer: a bijection on 64-bit
 * integers, which is also what keeps generated IDs distinct.  Only integer
 * arithmetic is used, so output is identical on every machine.
 */

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)

typedef enum Salt {
        SALT_ROW_VIDEOS = 1,
        SALT_ROW_USERS,
        SALT_ROW_COMMENTS,
        SALT_ID_VIDEO,
        SALT_ID_CHANNEL,
        SALT_ID_COMMENT,
        SALT_ID_EXTRA,
} Salt;

typedef struct Rng {
        uint64_t s;
} Rng;

static inline uint64_t mix64(uint64_t z)
{
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static inline uint64_t salt_key(uint64_t seed, Salt salt)
{
        return mix64(seed ^ mix64((uint64_t) salt * GOLDEN));
}

/* The row salts follow DatasetTable's order. */
static inline Rng rng_for_row(uint64_t seed, DatasetTable table, int64_t i)
{
        return (Rng){mix64(salt_key(seed, (Salt) (SALT_ROW_VIDEOS + table)) + (uint64_t) i * GOLDEN)};
}

static inline uint64_t rng_next(Rng *r)
{
        r->s += GOLDEN;
        return mix64(r->s);
}

/* Uniform in [0, n) by multiply-shift; the bias for n far below 2^64 is immaterial here. */
static inline uint64_t rng_below(Rng *r, uint64_t n)
{
        return (uint64_t) (((unsigned __int128) rng_next(r) * n) >> 64);
}

/* True with probability per_mille/1000. */
static inline bool rng_chance(Rng *r, unsigned per_mille)
{
        return rng_below(r, 1000) < per_mille;
}

/*
 * A heavy-tailed rank in [0, n): n * u^3 for uniform u, so the first ranks
 * take most draws (the top 1% about a fifth) and the tail is long.
 */
static inline uint64_t rng_heavy(Rng *r, uint64_t n)
{
        uint64_t u = rng_next(r) >> 32, u3 = (((u * u) >> 32) * u) >> 32;

        return (uint64_t) (((unsigned __int128) u3 * n) >> 32);
}

/*
 * A count that is 0 with probability zero_per_mille and otherwise roughly
 * log-uniform: 2^k plus noise below 2^k, with k geometric (P(k) = 2^-(k+1))
 * and at most max_bits.  So most values are 0 or single digits and a few
 * reach the thousands.
 */
static int64_t rng_count(Rng *r, unsigned zero_per_mille, int max_bits)
{
        int k;
        uint64_t x;

        if (rng_chance(r, zero_per_mille))
                return 0;
        k = __builtin_clzll(rng_next(r) | 1);
        if (k > max_bits)
                k = max_bits;
        x = rng_next(r) & ((UINT64_C(1) << k) - 1);
        return (int64_t) ((UINT64_C(1) << k) + x);
}

/* ---- vocabulary ---------------------------------------------------------- */

typedef struct Str {
        const char *s;
        size_t len;
} Str;

/* A string literal and its length. (clang-format would spread this over four lines.) */
/* clang-format off */
#define S(x) {x, sizeof(x) - 1}
/* clang-format on */

typedef struct Weighted {
        const char *s;
        unsigned weight;
} Weighted;

/* Index of an entry drawn with probability proportional to its weight. */
static size_t pick_weighted_index(Rng *r, const Weighted *w, size_t n)
{
        unsigned total = 0;
        uint64_t x;

        for (size_t i = 0; i < n; i++)
                total += w[i].weight;
        x = rng_below(r, total);
        for (size_t i = 0; i < n; i++) {
                if (x < w[i].weight)
                        return i;
                x -= w[i].weight;
        }
        return n - 1;
}

static const char *pick_weighted(Rng *r, const Weighted *w, size_t n)
{
        return w[pick_weighted_index(r, w, n)].s;
}

#define PICK(r, a) (&(a)[rng_below((r), ELEMENTSOF(a))])

static const Weighted categories[] = {
        {"Entertainment", 18},   {"Music", 14},         {"Gaming", 12},
        {"People & Blogs", 10},  {"Comedy", 7},         {"News & Politics", 6},
        {"Howto & Style", 6},    {"Education", 6},      {"Science & Technology", 6},
        {"Film & Animation", 4}, {"Sports", 4},         {"Autos & Vehicles", 2},
        {"Travel & Events", 2},  {"Pets & Animals", 2}, {"Nonprofits & Activism", 1},
};

/* Title subjects per category. */
static const Str subjects_film[] = {S("The Last Lighthouse"), S("Paper Planes"), S("Animated Short Film"),
                                    S("Behind the Scenes of Dune"), S("Stop Motion Kitchen")};
static const Str subjects_autos[] = {S("Tesla Model 3"), S("Toyota Hilux"), S("Honda Civic Type R"),
                                     S("Electric Bike Conversion"), S("Classic Mustang Restoration")};
static const Str subjects_music[] = {
        S("Midnight City"), S("Despacito Acoustic Cover"),   S("Lo-fi Beats to Study"),
        S("Dynamite"),      S("Bohemian Rhapsody on Piano"), S("Kesariya")};
static const Str subjects_pets[] = {S("Golden Retriever Puppy"), S("Cats vs Cucumbers"), S("Rescue Kitten"),
                                    S("Talking Parrot"), S("Baby Elephant Bath Time")};
static const Str subjects_sports[] = {S("Champions League Final"), S("Messi Skills"), S("NBA Top 10 Plays"),
                                      S("Cricket World Cup Highlights"), S("Marathon Training")};
static const Str subjects_travel[] = {S("Tokyo at Night"), S("Street Food in Bangkok"),
                                      S("Iceland Road Trip"), S("Rio Carnival"), S("Istanbul Travel Guide")};
static const Str subjects_gaming[] = {S("Minecraft Hardcore"), S("Elden Ring Boss Fight"),
                                      S("GTA 6 Trailer"), S("Fortnite Chapter 5"),
                                      S("Speedrun World Record")};
static const Str subjects_people[] = {S("A Day in My Life"), S("My Morning Routine"), S("Moving to Canada"),
                                      S("Tiny House Tour"), S("My First Vlog")};
static const Str subjects_comedy[] = {S("Stand-up Special"), S("Try Not to Laugh"), S("Office Pranks"),
                                      S("Sketch Comedy"), S("Dad Jokes")};
static const Str subjects_entertainment[] = {S("Celebrity Interview"), S("Reality Show Reunion"),
                                             S("Movie Trailer Reaction"), S("Talent Show Audition"),
                                             S("Late Night Monologue")};
static const Str subjects_news[] = {S("Election Results"), S("Climate Summit"), S("Economy Update"),
                                    S("Breaking News"), S("Press Conference")};
static const Str subjects_howto[] = {S("Sourdough Bread"), S("Skincare Routine"), S("Fix a Leaky Faucet"),
                                     S("Makeup Tutorial"), S("Knitting for Beginners")};
static const Str subjects_education[] = {S("Calculus Explained"), S("World War II History"),
                                         S("Learn Spanish"), S("Photosynthesis"),
                                         S("How the Internet Works")};
static const Str subjects_science[] = {S("iPhone 15 Review"), S("Quantum Computing"), S("SpaceX Launch"),
                                       S("Build a Gaming PC"), S("ChatGPT Explained")};
static const Str subjects_nonprofit[] = {S("Clean Water Project"), S("Ocean Cleanup"),
                                         S("Food Bank Volunteers"), S("Tree Planting Drive"),
                                         S("Charity Livestream")};

typedef struct Pool {
        const Str *v;
        size_t n;
} Pool;

/* clang-format off */
#define POOL(a) {a, ELEMENTSOF(a)}
/* clang-format on */

/* Indexed like categories[]. */
static const Pool subjects[] = {
        POOL(subjects_entertainment), POOL(subjects_music),     POOL(subjects_gaming),
        POOL(subjects_people),        POOL(subjects_comedy),    POOL(subjects_news),
        POOL(subjects_howto),         POOL(subjects_education), POOL(subjects_science),
        POOL(subjects_film),          POOL(subjects_sports),    POOL(subjects_autos),
        POOL(subjects_travel),        POOL(subjects_pets),      POOL(subjects_nonprofit),
};

/* Title templates: \1 is the subject, \2 a small number. */
static const Str title_templates[] = {
        S("\1"),
        S("\1 (Official Video)"),
        S("How to \1 in \2 Minutes"),
        S("Top \2: \1"),
        S("I tried \1 for \2 days"),
        S("\1 | Full Review"),
        S("\1 #shorts"),
        S("【公式】\1"),
        S("\1 (legendado)"),
        S("\1 리뷰"),
        S("\1 — обзор"),
        S("\1 | हिंदी में"),
        S("\1 🔥🔥"),
        S("\"\1\" explained"),
        S("\1 - Part \2"),
        S("\1, but it's \2x faster"),
        S("REACTING to \1 😱"),
        S("\1 [4K HDR]"),
};

static const Str first_names[] = {
        S("Ana"),    S("Carlos"), S("Emily"),  S("James"),  S("Lucas"), S("Sofia"),     S("Mateo"),
        S("Olivia"), S("Liam"),   S("Chloé"),  S("Jürgen"), S("Zoë"),   S("Mohammed"),  S("Priya"),
        S("Arjun"),  S("Fatima"), S("Ahmed"),  S("Kemal"),  S("Ayşe"),  S("Siti"),      S("Budi"),
        S("João"),   S("Inês"),   S("Pierre"), S("Hannah"), S("Diego"), S("Valentina"), S("Nguyễn"),
};
static const Str last_names[] = {
        S("Smith"),   S("García"),    S("Silva"),  S("Müller"), S("Kumar"),  S("Nakamura"),
        S("Kim"),     S("Ivanov"),    S("Dubois"), S("Rossi"),  S("Yılmaz"), S("Santos"),
        S("O'Brien"), S("Hernández"), S("Wang"),   S("Lee"),    S("Patel"),  S("Okafor"),
};
static const Str native_names[] = {
        S("山田太郎"),           S("佐藤 花子"),      S("김민준"),    S("이서연"),
        S("Андрей Петров"),      S("Мария Смирнова"), S("محمد علي"),  S("فاطمة الزهراء"),
        S("राहुल शर्मा"),          S("प्रिया सिंह"),      S("王小明"),    S("李華"),
        S("Νίκος Παπαδόπουλος"), S("נועה כהן"),       S("สมชาย ใจดี"),
};
static const Str handle_words[] = {
        S("Tech"),  S("Gaming"), S("Music"),  S("Daily"), S("Pixel"),  S("Nova"),
        S("Retro"), S("Urban"),  S("Cosmic"), S("Chef"),  S("Travel"), S("Crypto"),
        S("Lofi"),  S("Ninja"),  S("Wolf"),   S("Sunny"), S("Blue"),   S("Epic"),
};
static const Str handle_tails[] = {
        S("Zone"),  S("World"),   S("Hub"),     S("Lab"),   S("Studio"),  S("Nation"), S("Life"),
        S("Beats"), S("Kitchen"), S("Diaries"), S("Squad"), S("Central"), S("TV"),     S("Official"),
};
static const Str name_suffixes[] = {S(" Vlogs"),  S(" TV"),      S(" Official"), S(" Music"),
                                    S(" Gaming"), S(" Kitchen"), S(" - Topic")};

/* ---- comment text, per language and sentiment ---------------------------- */

static const Str en_pos[] = {
        S("This is the best video I've seen all week!"),
        S("Absolutely loved this, thank you for making it."),
        S("Your editing keeps getting better and better."),
        S("I've watched this three times already, no regrets."),
        S("Wow, the quality of this content is insane."),
        S("This deserves way more views, honestly."),
        S("You explained it so clearly, finally I get it."),
        S("The music at the end gave me chills."),
        S("Subscribed! Can't wait for the next one."),
        S("Came here from Reddit, not disappointed at all."),
};
static const Str en_neu[] = {
        S("Who's watching this in 2024?"),
        S("What camera do you use for these shots?"),
        S("First time here, interesting channel."),
        S("Can you make a video about the history of this?"),
        S("The middle part was a bit long, but okay."),
        S("Anyone else here after the news?"),
        S("I think the audio is slightly out of sync."),
        S("Is there a part two coming?"),
};
static const Str en_neg[] = {
        S("This was a waste of 20 minutes, sorry."),
        S("Too many ads, I couldn't finish it."),
        S("Clickbait title, the video has nothing to do with it."),
        S("The sound quality is terrible, please fix your mic."),
        S("I used to love this channel, but it's gone downhill."),
        S("Half of the facts in this video are wrong."),
        S("Unsubscribed. This is not what I signed up for."),
};
static const Str es_pos[] = {S("¡Me encantó este video, saludos desde México!"),
                             S("Qué buen contenido, sigue así."),
                             S("Lo he visto mil veces y todavía me emociona."),
                             S("Gracias por explicarlo tan bien, por fin lo entendí.")};
static const Str es_neu[] = {S("¿Alguien más viendo esto en 2024?"), S("¿Qué cámara usas para grabar?"),
                             S("Primera vez que veo este canal."), S("¿Habrá una segunda parte?")};
static const Str es_neg[] = {
        S("Demasiados anuncios, no pude terminarlo."), S("El título es puro clickbait."),
        S("El audio está fatal, no se entiende nada."), S("Antes me gustaba este canal, ya no.")};
static const Str pt_pos[] = {
        S("Que vídeo incrível, parabéns pelo trabalho!"), S("Melhor canal do YouTube, sem dúvida."),
        S("Assisti até o final, valeu muito a pena."), S("Obrigado por compartilhar, ajudou demais.")};
static const Str pt_neu[] = {S("Alguém assistindo em 2024?"), S("Qual música toca no final?"),
                             S("Primeira vez aqui no canal."), S("Vai ter parte dois?")};
static const Str pt_neg[] = {S("Não gostei, muita enrolação."), S("Título enganoso, perdi meu tempo."),
                             S("O áudio está horrível."), S("Esse canal já foi melhor.")};
static const Str hi_pos[] = {S("बहुत बढ़िया वीडियो, धन्यवाद!"), S("आपकी आवाज़ बहुत अच्छी है।"),
                             S("मैंने यह वीडियो तीन बार देखा, कमाल है।"), S("भाई आपने दिल जीत लिया।")};
static const Str hi_neu[] = {S("क्या कोई 2024 में देख रहा है?"), S("इसका दूसरा भाग कब आएगा?"),
                             S("पहली बार इस चैनल पर आया हूँ।"), S("यह गाना किस फिल्म का है?")};
static const Str hi_neg[] = {S("बहुत बोरिंग वीडियो था।"), S("बहुत ज़्यादा विज्ञापन हैं।"), S("आवाज़ साफ़ नहीं है।"),
                             S("समय की बर्बादी।")};
static const Str ja_pos[] = {S("最高の動画でした！ありがとうございます。"), S("何回見ても感動します。"),
                             S("編集が本当に上手ですね。"), S("この曲、ずっと聴いてます。")};
static const Str ja_neu[] = {S("2024年に見ている人いますか？"), S("このカメラは何ですか？"),
                             S("初めてこのチャンネルに来ました。"), S("続きはありますか？")};
static const Str ja_neg[] = {S("広告が多すぎて見られない。"), S("タイトル詐欺だと思う。"),
                             S("音声が聞き取りにくいです。"), S("前の方が良かった。")};
static const Str ko_pos[] = {S("영상 너무 좋아요! 감사합니다."), S("이 노래 진짜 명곡이에요."),
                             S("편집 실력이 대단하네요."), S("몇 번을 봐도 질리지 않아요.")};
static const Str ko_neu[] = {S("2024년에 보는 사람 있나요?"), S("다음 편은 언제 나오나요?"),
                             S("처음 와봤어요."), S("이 카메라 뭐예요?")};
static const Str ko_neg[] = {S("광고가 너무 많아요."), S("제목이 낚시네요."), S("소리가 너무 작아요."),
                             S("예전이 더 좋았어요.")};
static const Str ar_pos[] = {S("فيديو رائع جدا، شكرا لك!"), S("أفضل قناة على يوتيوب."),
                             S("استمتعت كثيرا بالمشاهدة."), S("شرح ممتاز وواضح.")};
static const Str ar_neu[] = {S("هل يوجد أحد يشاهد في 2024؟"), S("متى الجزء الثاني؟"),
                             S("أول مرة أشاهد هذه القناة."), S("ما اسم هذه الأغنية؟")};
static const Str ar_neg[] = {S("إعلانات كثيرة جدا."), S("العنوان مضلل."), S("الصوت سيء للغاية."),
                             S("مضيعة للوقت.")};
static const Str ru_pos[] = {S("Отличное видео, спасибо автору!"), S("Лучший канал на ютубе."),
                             S("Смотрю уже третий раз, очень круто."), S("Наконец-то понятное объяснение.")};
static const Str ru_neu[] = {S("Кто смотрит в 2024 году?"), S("Будет ли вторая часть?"),
                             S("Впервые на этом канале."), S("Какая у тебя камера?")};
static const Str ru_neg[] = {S("Слишком много рекламы."), S("Кликбейт, ничего интересного."),
                             S("Звук ужасный."), S("Раньше было лучше.")};
static const Str fr_pos[] = {S("Super vidéo, merci beaucoup !"), S("Franchement, c'est génial."),
                             S("J'adore ta façon d'expliquer.")};
static const Str fr_neu[] = {S("Qui regarde en 2024 ?"), S("Il y aura une suite ?"),
                             S("Première fois sur la chaîne.")};
static const Str fr_neg[] = {S("Trop de pubs, j'ai arrêté."), S("Titre trompeur."),
                             S("Le son est vraiment mauvais.")};
static const Str de_pos[] = {S("Tolles Video, vielen Dank!"), S("Endlich versteht man das mal."),
                             S("Einer der besten Kanäle überhaupt.")};
static const Str de_neu[] = {S("Wer schaut das 2024?"), S("Gibt es einen zweiten Teil?"),
                             S("Bin zum ersten Mal hier.")};
static const Str de_neg[] = {S("Viel zu viel Werbung."), S("Der Titel ist reiner Clickbait."),
                             S("Der Ton ist furchtbar.")};
static const Str id_pos[] = {S("Videonya keren banget, makasih!"), S("Mantap, lanjutkan terus kak."),
                             S("Sangat membantu, terima kasih.")};
static const Str id_neu[] = {S("Siapa yang nonton di tahun 2024?"), S("Kapan part 2 nya?"),
                             S("Baru pertama kali nonton channel ini.")};
static const Str id_neg[] = {S("Iklannya kebanyakan."), S("Judulnya clickbait."),
                             S("Suaranya kurang jelas.")};
static const Str tr_pos[] = {S("Harika bir video, teşekkürler!"), S("Emeğine sağlık, çok güzel olmuş."),
                             S("Bu kanalı çok seviyorum.")};
static const Str tr_neu[] = {S("2024'te izleyen var mı?"), S("İkinci bölüm ne zaman?"),
                             S("Kanala ilk defa geldim.")};
static const Str tr_neg[] = {S("Çok fazla reklam var."), S("Başlık tamamen yanıltıcı."), S("Ses çok kötü.")};
static const Str vi_pos[] = {S("Video hay quá, cảm ơn bạn!"), S("Kênh này tuyệt vời thật sự."),
                             S("Xem đi xem lại vẫn thích.")};
static const Str vi_neu[] = {S("Có ai xem vào năm 2024 không?"), S("Khi nào có phần 2?"),
                             S("Lần đầu xem kênh này.")};
static const Str vi_neg[] = {S("Quảng cáo nhiều quá."), S("Tiêu đề câu view."), S("Âm thanh tệ quá.")};
static const Str zh_pos[] = {S("這個影片太棒了，謝謝分享！"), S("剪輯得很好，支持！"),
                             S("每天都要聽一遍。")};
static const Str zh_neu[] = {S("有人2024年還在看嗎？"), S("請問有第二集嗎？"), S("第一次來這個頻道。")};
static const Str zh_neg[] = {S("廣告太多了。"), S("標題黨。"), S("聲音太小聲了。")};

static const Weighted countries_en[] = {{"US", 40}, {"GB", 12}, {"IN", 14}, {"CA", 8}, {"AU", 6},
                                        {"PH", 8},  {"NG", 4},  {"ZA", 3},  {"IE", 2}, {"NZ", 3}};
static const Weighted countries_es[] = {{"MX", 30}, {"ES", 20}, {"AR", 15}, {"CO", 15},
                                        {"CL", 8},  {"PE", 7},  {"US", 5}};
static const Weighted countries_pt[] = {{"BR", 85}, {"PT", 15}};
static const Weighted countries_hi[] = {{"IN", 95}, {"NP", 5}};
static const Weighted countries_ja[] = {{"JP", 1}};
static const Weighted countries_ko[] = {{"KR", 1}};
static const Weighted countries_ar[] = {{"SA", 30}, {"EG", 30}, {"AE", 15}, {"MA", 15}, {"IQ", 10}};
static const Weighted countries_ru[] = {{"RU", 70}, {"UA", 10}, {"KZ", 10}, {"BY", 10}};
static const Weighted countries_fr[] = {{"FR", 60}, {"CA", 15}, {"BE", 10}, {"CH", 5}, {"SN", 10}};
static const Weighted countries_de[] = {{"DE", 75}, {"AT", 15}, {"CH", 10}};
static const Weighted countries_id[] = {{"ID", 1}};
static const Weighted countries_tr[] = {{"TR", 1}};
static const Weighted countries_vi[] = {{"VN", 1}};
static const Weighted countries_zh[] = {{"TW", 50}, {"HK", 20}, {"SG", 15}, {"MY", 15}};

typedef enum Sentiment {
        SENTIMENT_POSITIVE,
        SENTIMENT_NEUTRAL,
        SENTIMENT_NEGATIVE,
        _SENTIMENT_MAX,
} Sentiment;

static const Str sentiment_labels[_SENTIMENT_MAX] = {S("Positive"), S("Neutral"), S("Negative")};

typedef struct Language {
        unsigned weight; /* per cent of comments */
        Pool text[_SENTIMENT_MAX];
        const Weighted *countries;
        size_t n_countries;
        bool no_space; /* Chinese and Japanese sentences follow each other without a space */
} Language;

/* clang-format off */
#define LANGUAGE(w, code, ns)                                                                               \
        {w, {POOL(code##_pos), POOL(code##_neu), POOL(code##_neg)},                                           \
         countries_##code, ELEMENTSOF(countries_##code), ns}
/* clang-format on */

static const Language languages[] = {
        LANGUAGE(50, en, false), LANGUAGE(10, es, false), LANGUAGE(7, pt, false), LANGUAGE(6, hi, false),
        LANGUAGE(4, ja, true),   LANGUAGE(4, ko, false),  LANGUAGE(3, ar, false), LANGUAGE(4, ru, false),
        LANGUAGE(3, fr, false),  LANGUAGE(2, de, false),  LANGUAGE(3, id, false), LANGUAGE(2, tr, false),
        LANGUAGE(1, vi, false),  LANGUAGE(1, zh, true),
};

static const Str emoji[_SENTIMENT_MAX][8] = {
        {S("😂"), S("❤️"), S("🔥"), S("👍🏽"), S("😍"), S("🙌"), S("💯"), S("🇧🇷")},
        {S("🤔"), S("👀"), S("😅"), S("🙂"), S("📌"), S("👨‍👩‍👧"), S("⏰"), S("🎧")},
        {S("😡"), S("👎"), S("😢"), S("🙄"), S("💀"), S("😤"), S("🤦‍♂️"), S("😴")},
};

/* ---- small writers --------------------------------------------------------- */

/* A bounded text buffer; a piece that does not fit is dropped whole, so the text stays valid UTF-8. */
typedef struct Text {
        char *p;
        size_t len, cap;
} Text;

static inline void text_put(Text *t, const char *s, size_t n)
{
        if (t->cap - t->len < n)
                return;
        memcpy(t->p + t->len, s, n);
        t->len += n;
}

static inline void text_str(Text *t, const Str *s)
{
        text_put(t, s->s, s->len);
}

static void text_uint(Text *t, uint64_t v)
{
        char tmp[20], *p = tmp + sizeof(tmp);

        do {
                *--p = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        text_put(t, p, (size_t) (tmp + sizeof(tmp) - p));
}

/* The base64url alphabet YouTube IDs are written in. */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Writes the top 60 bits of v as 10 base64url characters. */
static inline void b64_60(char *out, uint64_t v)
{
        for (int i = 0; i < 10; i++)
                out[i] = b64[(v >> (58 - 6 * i)) & 63];
}

/*
 * IDs are a bijective mix of the row index, written out in full, so two rows
 * can never share one.  The shapes follow YouTube's: an 11-character video
 * ID whose last character carries 4 bits, "UC" plus 22 characters (128 bits)
 * for channels, and "Ug" + [w-z] + 16 characters + "4AaABAg" for comments.
 */
static void video_id(uint64_t seed, int64_t i, char out[11])
{
        uint64_t v = mix64((uint64_t) i + salt_key(seed, SALT_ID_VIDEO));

        b64_60(out, v);
        out[10] = b64[(v & 15) << 2];
}

static void channel_id(uint64_t seed, int64_t i, char out[24])
{
        uint64_t hi = mix64((uint64_t) i + salt_key(seed, SALT_ID_CHANNEL));
        uint64_t lo = mix64(hi ^ salt_key(seed, SALT_ID_EXTRA));

        out[0] = 'U';
        out[1] = 'C';
        b64_60(out + 2, hi);
        out[12] = b64[((hi & 15) << 2) | (lo >> 62)];
        b64_60(out + 13, lo << 2);
        out[23] = b64[(lo & 3) << 4];
}

static void comment_id(uint64_t seed, int64_t i, char out[26])
{
        uint64_t hi = mix64((uint64_t) i + salt_key(seed, SALT_ID_COMMENT));
        uint64_t lo = mix64(hi ^ salt_key(seed, SALT_ID_EXTRA));

        out[0] = 'U';
        out[1] = 'g';
        out[2] = "wxyz"[lo & 3];
        b64_60(out + 3, hi);
        out[13] = b64[((hi & 15) << 2) | (lo >> 62)];
        for (int k = 0; k < 5; k++)
                out[14 + k] = b64[(lo >> (56 - 6 * k)) & 63];
        memcpy(out + 19, "4AaABAg", 7);
}

static inline void put2(char *p, unsigned v)
{
        p[0] = (char) ('0' + v / 10);
        p[1] = (char) ('0' + v % 10);
}

/* "YYYY-MM-DD HH:MM:SS" for a Unix time between years 1000 and 9999. */
static void format_timestamp(int64_t t, char out[19])
{
        int64_t days = t / 86400, y;
        unsigned secs = (unsigned) (t % 86400), m, d;

        civil_from_days(days, &y, &m, &d);
        put2(out, (unsigned) (y / 100));
        put2(out + 2, (unsigned) (y % 100));
        out[4] = '-';
        put2(out + 5, m);
        out[7] = '-';
        put2(out + 8, d);
        out[10] = ' ';
        put2(out + 11, secs / 3600);
        out[13] = ':';
        put2(out + 14, secs / 60 % 60);
        out[16] = ':';
        put2(out + 17, secs % 60);
}

/* ---- rows ---------------------------------------------------------------- */

/* 2019-01-01 00:00:00 UTC and the six years after it. */
#define TIME_START INT64_C(1546300800)
#define TIME_SPAN  (INT64_C(6) * 365 * 86400 + 2 * 86400)

typedef struct Generator {
        uint64_t seed;
        int64_t counts[_TABLE_MAX];
        /* Multipliers coprime with the table sizes: they scatter popularity ranks over row indexes. */
        uint64_t video_scatter, user_scatter;
        RowBuf row;
        char text[TEXT_MAX];
} Generator;

static uint64_t gcd64(uint64_t a, uint64_t b)
{
        while (b) {
                uint64_t t = a % b;
                a = b;
                b = t;
        }
        return a;
}

static uint64_t scatter_for(uint64_t n)
{
        static const uint64_t primes[] = {2654435761u, 2246822519u, 3266489917u, 668265263u, 374761393u};

        for (size_t i = 0; i < ELEMENTSOF(primes); i++)
                if (gcd64(primes[i], n) == 1)
                        return primes[i];
        return 1;
}

/* A heavy-tailed pick of a row index in [0, n), the popular ones spread over the table, not at its start. */
static int64_t pick_popular(Rng *r, int64_t n, uint64_t scatter)
{
        uint64_t rank = rng_heavy(r, (uint64_t) n);

        return (int64_t) (((unsigned __int128) rank * scatter) % (uint64_t) n);
}

static int emit_video(Generator *g, int64_t i, const RowSink *sink)
{
        Rng r = rng_for_row(g->seed, TABLE_VIDEOS, i);
        Text t = {g->text, 0, 256};
        char id[11];
        size_t cat = pick_weighted_index(&r, categories, ELEMENTSOF(categories));
        bool null_category = rng_chance(&r, 20);
        const Str *subject = &subjects[cat].v[rng_below(&r, subjects[cat].n)];
        const Str *tmpl = PICK(&r, title_templates);
        uint64_t number = 2 + rng_below(&r, 29);

        video_id(g->seed, i, id);
        for (size_t k = 0; k < tmpl->len; k++) {
                if (tmpl->s[k] == '\1')
                        text_str(&t, subject);
                else if (tmpl->s[k] == '\2')
                        text_uint(&t, number);
                else
                        text_put(&t, tmpl->s + k, 1);
        }

        rowbuf_reset(&g->row);
        rowbuf_field(&g->row, id, sizeof(id));
        rowbuf_field(&g->row, t.p, t.len);
        rowbuf_field_str(&g->row, null_category ? NULL : categories[cat].s);
        rowbuf_end(&g->row);
        return sink->put(sink->userdata, TABLE_VIDEOS, g->row.data, g->row.len);
}

static void channel_name(Rng *r, Text *t)
{
        uint64_t kind = rng_below(r, 1000);

        if (kind < 3) {
                text_put(t, "Unknown User", 12);
        } else if (kind < 253) {
                text_str(t, PICK(r, first_names));
                text_put(t, " ", 1);
                text_str(t, PICK(r, last_names));
        } else if (kind < 353) {
                text_str(t, PICK(r, first_names));
                text_uint(t, 1970 + rng_below(r, 40));
        } else if (kind < 553) {
                text_str(t, PICK(r, handle_words));
                text_str(t, PICK(r, handle_tails));
        } else if (kind < 673) {
                text_str(t, PICK(r, native_names));
        } else if (kind < 753) {
                text_str(t, PICK(r, first_names));
                text_str(t, PICK(r, name_suffixes));
        } else if (kind < 873) {
                /* The handle YouTube gives accounts that never picked a name. */
                static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
                uint64_t x = rng_next(r);

                text_put(t, "@user-", 6);
                for (int k = 0; k < 10; k++, x /= 36)
                        text_put(t, &alnum[x % 36], 1);
        } else if (kind < 970) {
                text_str(t, PICK(r, handle_words));
                text_str(t, PICK(r, handle_tails));
                text_uint(t, rng_below(r, 1000));
        } else {
                text_put(t, "The ", 4);
                text_str(t, PICK(r, handle_words));
                text_put(t, " Channel", 8);
        }
}

static int emit_user(Generator *g, int64_t i, const RowSink *sink)
{
        Rng r = rng_for_row(g->seed, TABLE_USERS, i);
        Text t = {g->text, 0, 256};
        char id[24];

        channel_id(g->seed, i, id);
        channel_name(&r, &t);

        rowbuf_reset(&g->row);
        rowbuf_field(&g->row, id, sizeof(id));
        rowbuf_field(&g->row, t.p, t.len);
        rowbuf_end(&g->row);
        return sink->put(sink->userdata, TABLE_USERS, g->row.data, g->row.len);
}

/* A sentence of the given sentiment, never the same one as prev twice in a row. */
static const Str *sentence(Rng *r, const Language *lang, Sentiment s, const Str *prev)
{
        const Pool *p = &lang->text[s];
        size_t k = rng_below(r, p->n);

        if (&p->v[k] == prev)
                k = (k + 1) % p->n;
        return &p->v[k];
}

/*
 * Comment text: one to three sentences in one language (now and then a long
 * rant), sometimes with emoji, a mention, a timestamp, quotes, line breaks,
 * a tab or a backslash -- the characters that break naive CSV and COPY code.
 */
static void comment_text(Rng *r, const Language *lang, Sentiment s, Text *t)
{
        uint64_t shape = rng_below(r, 1000);
        unsigned n = shape < 600 ? 1 : shape < 880 ? 2 : shape < 970 ? 3 : 5 + (unsigned) rng_below(r, 4);
        uint64_t joiner = rng_below(r, 1000);
        uint64_t extra = rng_below(r, 1000);
        const Str *prev = NULL;

        if (extra < 50) {
                text_put(t, "@", 1);
                text_str(t, PICK(r, handle_words));
                text_str(t, PICK(r, handle_tails));
                text_put(t, " ", 1);
        } else if (extra < 100) {
                uint64_t sec = rng_below(r, 1200);

                text_uint(t, sec / 60);
                text_put(t, ":", 1);
                text_put(t, &"0123456789"[sec % 60 / 10], 1);
                text_put(t, &"0123456789"[sec % 10], 1);
                text_put(t, " ", 1);
        }

        for (unsigned k = 0; k < n; k++) {
                /* A mixed comment now and then: praise with a question, a complaint with a shrug. */
                Sentiment ks = k > 0 && rng_chance(r, 150) ? SENTIMENT_NEUTRAL : s;
                const Str *sen = sentence(r, lang, ks, prev);

                prev = sen;

                if (k > 0) {
                        if (joiner < 50)
                                text_put(t, "\n", 1);
                        else if (joiner < 60)
                                text_put(t, "\n\n", 2);
                        else if (joiner < 63)
                                text_put(t, "\r\n", 2);
                        else if (joiner < 68)
                                text_put(t, "\t", 1);
                        else if (!lang->no_space)
                                text_put(t, " ", 1);
                }
                if (extra >= 100 && extra < 130 && k == n - 1) {
                        text_put(t, "\"", 1);
                        text_str(t, sen);
                        text_put(t, "\"", 1);
                } else
                        text_str(t, sen);
        }

        if (extra >= 130 && extra < 136)
                text_put(t, " ¯\\_(ツ)_/¯", sizeof(" ¯\\_(ツ)_/¯") - 1);
        else if (extra >= 136 && extra < 138)
                text_put(t, " C:\\Users\\me\\Videos", sizeof(" C:\\Users\\me\\Videos") - 1);

        if (rng_chance(r, 300)) {
                unsigned ne = 1 + (unsigned) rng_below(r, 3);
                const Str *e = &emoji[s][rng_below(r, ELEMENTSOF(emoji[s]))];

                text_put(t, " ", 1);
                for (unsigned k = 0; k < ne; k++)
                        text_str(t, e);
        }
}

static int emit_comment(Generator *g, int64_t i, const RowSink *sink)
{
        Rng r = rng_for_row(g->seed, TABLE_COMMENTS, i);
        Text t = {g->text, 0, sizeof(g->text)};
        int64_t videos = g->counts[TABLE_VIDEOS], users = g->counts[TABLE_USERS];
        char cid[26], vid[11], uid[24], when[19];
        const Language *lang;
        Sentiment s;
        uint64_t x;
        int64_t v, u, likes, replies, ts;
        const char *country = NULL;

        /* The first rows give every video and every user a comment; the rest follow popularity. */
        v = i < videos ? i : pick_popular(&r, videos, g->video_scatter);
        u = i < users ? i : pick_popular(&r, users, g->user_scatter);

        x = rng_below(&r, 100);
        s = x < 48 ? SENTIMENT_POSITIVE : x < 80 ? SENTIMENT_NEUTRAL : SENTIMENT_NEGATIVE;

        x = rng_below(&r, 100);
        lang = &languages[0];
        for (size_t k = 0; k < ELEMENTSOF(languages); k++) {
                if (x < languages[k].weight) {
                        lang = &languages[k];
                        break;
                }
                x -= languages[k].weight;
        }

        comment_text(&r, lang, s, &t);
        likes = rng_count(&r, 550, 17);
        replies = rng_count(&r, 800, 11);

        /* Skewed towards recent years: the later of two draws, two times out of five. */
        ts = (int64_t) rng_below(&r, TIME_SPAN);
        if (rng_chance(&r, 400)) {
                int64_t ts2 = (int64_t) rng_below(&r, TIME_SPAN);
                if (ts2 > ts)
                        ts = ts2;
        }
        format_timestamp(TIME_START + ts, when);

        if (!rng_chance(&r, 100))
                country = pick_weighted(&r, lang->countries, lang->n_countries);

        comment_id(g->seed, i, cid);
        video_id(g->seed, v, vid);
        channel_id(g->seed, u, uid);

        rowbuf_reset(&g->row);
        rowbuf_field(&g->row, cid, sizeof(cid));
        rowbuf_field(&g->row, vid, sizeof(vid));
        rowbuf_field(&g->row, uid, sizeof(uid));
        rowbuf_field(&g->row, t.p, t.len);
        rowbuf_field_int(&g->row, likes);
        rowbuf_field_int(&g->row, replies);
        rowbuf_field(&g->row, rng_chance(&r, 15) ? NULL : when, sizeof(when));
        rowbuf_field(&g->row, sentiment_labels[s].s, sentiment_labels[s].len);
        rowbuf_field_str(&g->row, country);
        rowbuf_end(&g->row);
        return sink->put(sink->userdata, TABLE_COMMENTS, g->row.data, g->row.len);
}

void synthetic_counts(const SyntheticSpec *spec, int64_t counts[_TABLE_MAX])
{
        /* Integer rounding (half up) so the counts never depend on floating point. */
        __int128 c = spec && spec->comments > 0 ? spec->comments : SYNTHETIC_DEFAULT_COMMENTS;
        __int128 videos = (c * 9 + 500) / 1000;

        counts[TABLE_COMMENTS] = (int64_t) c;
        counts[TABLE_USERS] = (int64_t) ((c * 782 + 500) / 1000);
        counts[TABLE_VIDEOS] = videos < 1 ? 1 : (int64_t) videos;
}

typedef int (*EmitFn)(Generator *g, int64_t i, const RowSink *sink);

static void generator_done(Generator *g)
{
        rowbuf_free(&g->row);
}

int synthetic_generate(const SyntheticSpec *spec, DatasetTable table, int64_t begin, int64_t end,
                       const RowSink *sink)
{
        _cleanup_(generator_done) Generator g = {0};
        EmitFn emit;

        if (!spec || !sink || !sink->put || table < 0 || table >= _TABLE_MAX)
                return -EINVAL;
        g.seed = spec->seed;
        synthetic_counts(spec, g.counts);
        if (begin < 0 || begin > end || end > g.counts[table])
                return -EINVAL;
        g.video_scatter = scatter_for((uint64_t) g.counts[TABLE_VIDEOS]);
        g.user_scatter = scatter_for((uint64_t) g.counts[TABLE_USERS]);

        emit = table == TABLE_VIDEOS ? emit_video : table == TABLE_USERS ? emit_user : emit_comment;
        for (int64_t i = begin; i < end; i++) {
                int r = emit(&g, i, sink);

                if (r < 0)
                        return r;
        }
        return 0;
}

SELECT 'a;b'; -- c;
/* d; /* nested; */ */ SELECT E'\';'; SELECT "x;y";
DO $tag$ BEGIN; END $tag$;